# Pruning baselines beside the IG-guided chain (prune.compare; none by default): each
# (emotion, ranking) keeps the chain's landmark count of every iteration by its own ranking
# and trains as the chain does. Only prune.compare and compare_seeds reach these jobs, so
# changing them re-runs no job of the chain.
COMPARE = CompareSettings.from_section(config["prune"])


rule compare_pruning:
    input:
        features=path(LAYOUT.features),
        landmarks=[path(LAYOUT.landmark_sets(i, "{emotion}")) for i in ITERATIONS],
    output:
        table=path(LAYOUT.comparison("{emotion}", "{ranking}")),
    log:
        log("compare_pruning", "{emotion}_{ranking}"),
    benchmark:
        bench("compare_pruning", "{emotion}_{ranking}")
    wildcard_constraints:
        ranking="|".join(RANKINGS),
    threads: 1
    resources:
        gpu=GPU_PER_JOB,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=240,
        torch_threads=torch_threads,
    params:
        train=config["train"],
        attribution=lambda wildcards: (
            ATTRIBUTION_SETTINGS if wildcards.ranking == "vanilla_ig" else {}
        ),
        seeds=lambda wildcards: (
            COMPARE.compare_seeds if wildcards.ranking == "random" else 0
        ),
    script:
        "../scripts/compare_pruning.py"


rule gather_comparison:
    input:
        tables=[
            path(LAYOUT.comparison(emotion, ranking))
            for emotion in EMOTIONS
            for ranking in COMPARE.compare
        ],
        metrics=[
            path(LAYOUT.metrics(i, emotion))
            for emotion in EMOTIONS
            for i in ITERATIONS
        ],
        landmarks=[
            path(LAYOUT.landmark_sets(i, emotion))
            for emotion in EMOTIONS
            for i in ITERATIONS
        ],
        summary=path(LAYOUT.summary),
    output:
        table=path(LAYOUT.comparison_summary),
        figure=report(
            path(LAYOUT.comparison_figure),
            caption="../report/comparison.rst",
            category="3. Accuracy and cost",
            labels={"#": "4", "item": "pruning baselines: accuracy vs landmarks kept"},
        ),
        page=report(
            path(LAYOUT.comparison_page),
            caption="../report/comparison_verdicts.rst",
            category="3. Accuracy and cost",
            labels={
                "#": "5",
                "item": "pruning baselines: does IG-guided pruning win? (table)",
            },
        ),
    log:
        log("gather_comparison", "gather_comparison"),
    benchmark:
        bench("gather_comparison", "gather_comparison")
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        chain_metrics={
            emotion: [path(LAYOUT.metrics(i, emotion)) for i in ITERATIONS]
            for emotion in EMOTIONS
        },
        chain_sets={
            emotion: [path(LAYOUT.landmark_sets(i, emotion)) for i in ITERATIONS]
            for emotion in EMOTIONS
        },
    script:
        "../scripts/gather_comparison.py"
