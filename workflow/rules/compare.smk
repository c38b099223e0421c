# Pruning baselines (prune.compare; none by default), through the same nesting as the IG-guided
# chain: in each outer fold, each emotion's baselines keep the fold's chain's landmark count of
# every iteration by their own ranking (from the fold's training subjects only), train and are
# scored as the chain is; the evaluation chooses each one's count on its inner folds. One job
# per emotion and outer fold runs every baseline. Only prune.compare and compare_seeds reach
# these jobs (and the attribution settings, for vanilla_ig), so changing them re-runs no chain.


rule compare_pruning:
    input:
        features=path(LAYOUT.features),
        landmarks=[
            path(LAYOUT.landmark_sets(i, "{emotion}", "{fold}")) for i in ITERATIONS
        ],
    output:
        table=path(LAYOUT.comparison("{emotion}", "{fold}")),
    log:
        log("compare_pruning", "fold_{fold}_{emotion}"),
    benchmark:
        bench("compare_pruning", "fold_{fold}_{emotion}")
    threads: 1
    resources:
        gpu=GPU_PER_JOB,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=240,
        torch_threads=torch_threads,
    params:
        rankings=list(COMPARE.compare),
        train=config["train"],
        attribution=ATTRIBUTION_SETTINGS if "vanilla_ig" in COMPARE.compare else {},
        seeds=COMPARE.compare_seeds if "random" in COMPARE.compare else 0,
        fold=lambda wildcards: int(wildcards.fold),
    script:
        "../scripts/compare_pruning.py"
