from emoflow.pruning import PruneSettings

# The prune section's keys that can change a pruning step (PruneSettings says which: its own
# keys, less the settings of the policies not chosen, which are logged as ignored).
PRUNE_SETTINGS = PruneSettings.rule_params(config["prune"])


# The chains (emotion.chains). Each split of the data has one chain per emotion: the deployed
# split (every development subject; its models are the ones `emoflow predict` applies, scored
# once on the held-out test subjects) and each outer fold of the nested evaluation (the fold's
# training subjects only; scored once on the fold's own subjects). Iteration 0 of every chain
# is one job (start_chains: the start sets, the models, their attribution; with
# prune.chain_jobs: emotion, one per split); the later iterations of a split's chains are one
# more (prune_chain: prune by the previous relevance, train, attribute, repeat; one per emotion
# and split with prune.chain_jobs: emotion). A job pays ~1.4 s of CPU to start Python and
# import torch, more than a step's work on the demo, so a process runs whole chains; every
# step's files stay outputs of their own. Only the steps' own settings are parameters: a change to
# prune.start re-runs the chains from iteration 0, a change to the policy from iteration 1.
# The chains are GPU jobs and run side by side (`--resources gpu=N`: N at once). A prune_chain
# job takes one thread: most of its work is single-threaded, so jobs side by side use the cores
# better. The start_chains job runs alone (nothing else is ready then), so it asks for a core
# per split and runs its splits side by side, each in a process forked after the job's imports
# (on a cluster, profiles/*/config.yaml gives each job 4).
rule start_chains:
    input:
        features=path(LAYOUT.features),
    output:
        **START_OUTPUTS,
    log:
        log("start_chains", START_JOB),
    benchmark:
        bench("start_chains", START_JOB)
    priority: PRIORITY_CHAINS
    threads: start_threads
    resources:
        **ATTRIBUTION_RUNTIME,
        gpu=GPU_PER_JOB,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=lambda wildcards: 120 * len(start_folds(wildcards)),
        torch_threads=torch_threads,
    params:
        emotions=EMOTIONS,
        folds=start_folds,
        start=config["prune"]["start"],
        train=config["train"],
        attribution=ATTRIBUTION_SETTINGS,
    script:
        "../scripts/start_chains.py"


# prune.chain_jobs says what one job of the later iterations runs: every emotion's chain of
# the split, one after another (split: the fewest jobs, each paying the start-up once), or one
# emotion's (emotion: more jobs side by side). The same rule, files and results either way.
if LATER:

    rule prune_chain:
        input:
            unpack(get_chain_start),
            features=path(LAYOUT.features),
        output:
            **chain_outputs(LATER, CHAIN_EMOTIONS, SPLIT),
        log:
            log("prune_chain", CHAIN_JOB),
        benchmark:
            bench("prune_chain", CHAIN_JOB)
        priority: PRIORITY_CHAINS
        threads: 1
        resources:
            **ATTRIBUTION_RUNTIME,
            gpu=GPU_PER_JOB,
            mem_mb=lambda wildcards, attempt: 8000 * attempt,
            runtime=lambda wildcards: 240 * len(chain_emotions(wildcards)),
            torch_threads=torch_threads,
        params:
            emotions=chain_emotions,
            prune=PRUNE_SETTINGS,
            train=config["train"],
            attribution=ATTRIBUTION_SETTINGS,
            fold=lambda wildcards: LAYOUT.fold_of(wildcards.split),
        script:
            "../scripts/prune_chain.py"


# The calibrated combined prediction, confusion matrices and scores of an iteration need
# every emotion: a small gather job (no torch).
rule gather_iteration:
    input:
        metrics=per_emotion(LAYOUT.metrics, "{iteration}"),
        scores=per_emotion(LAYOUT.scores, "{iteration}"),
        landmarks=per_emotion(LAYOUT.landmark_sets, "{iteration}"),
    output:
        metrics=path(LAYOUT.metrics("{iteration}")),
        scores=path(LAYOUT.scores("{iteration}")),
        landmarks=path(LAYOUT.landmark_sets("{iteration}")),
    log:
        log("gather_iteration", "{iteration}"),
    benchmark:
        bench("gather_iteration", "{iteration}")
    priority: PRIORITY_BETWEEN
    resources:
        mem_mb=2000,
        runtime=15,
    script:
        "../scripts/gather_iteration.py"
