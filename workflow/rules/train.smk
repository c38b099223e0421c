# One chain per emotion: each emotion's model of each iteration is its own (GPU) job, so the
# emotions' chains run side by side (`--resources gpu=N`: N at once, each on its own device).
# One job per emotion and iteration: the step's landmark set (iteration 0: the start set; later
# ones: pruned by the previous iteration's relevance), then training and attribution. Each job
# pays ~1 s of CPU to start Python and import torch, more than the work on the demo, while
# choosing a landmark set takes milliseconds: one job per step, not three. Only the step's own
# setting is a parameter, so a change to prune.start re-runs the chains from iteration 0 and a
# change to the policy from iteration 1. One thread each: most of a job is single-threaded, so
# jobs side by side use the cores better (on a cluster, profiles/*/config.yaml gives each 4;
# locally `--set-threads train_models=4`).
rule train_models:
    input:
        unpack(get_step_inputs),
        features=path(LAYOUT.features),
    output:
        landmarks=path(LAYOUT.landmark_sets("{iteration}", "{emotion}")),
        model=path(LAYOUT.model("{iteration}", "{emotion}")),
        metrics=path(LAYOUT.metrics("{iteration}", "{emotion}")),
        scores=path(LAYOUT.scores("{iteration}", "{emotion}")),
        attributions=directory(path(LAYOUT.attributions("{iteration}", "{emotion}"))),
    log:
        log("train_models", "{iteration}_{emotion}"),
    benchmark:
        bench("train_models", "{iteration}_{emotion}")
    threads: 1
    resources:
        **ATTRIBUTION_RUNTIME,
        gpu=GPU_PER_JOB,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=120,
        torch_threads=torch_threads,
        # attribution's batch and memory knobs: how the job runs, not what it computes
    params:
        start=lambda wildcards: (
            config["prune"]["start"] if int(wildcards.iteration) == 0 else None
        ),
        prune=lambda wildcards: PRUNE_SETTINGS if int(wildcards.iteration) > 0 else None,
        train=config["train"],
        attribution=ATTRIBUTION_SETTINGS,
        iteration=lambda wildcards: int(wildcards.iteration),
    script:
        "../scripts/train_models.py"


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
    resources:
        mem_mb=2000,
        runtime=15,
    script:
        "../scripts/gather_iteration.py"
