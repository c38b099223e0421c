# The nested evaluation: every outer fold's chains (and baselines) → every procedure's
# outer-fold predictions, its count chosen on inner folds alone, estimates with subject-level
# bootstrap intervals, paired differences with verdicts, and matched-count curves. The deployed
# chain's held-out test scores get their intervals here too. No torch: seconds of work.
rule evaluate_nested:
    input:
        metrics=[
            step["metrics"]
            for e in EMOTIONS
            for fold in FOLDS
            for step in chain_steps(e, fold)
        ],
        scores=[
            step["scores"]
            for e in EMOTIONS
            for fold in FOLDS
            for step in chain_steps(e, fold)
        ],
        deployed=[
            step[name]
            for e in EMOTIONS
            for step in chain_steps(e)
            for name in ("metrics", "scores")
        ],
        comparisons=get_comparison_tables(),
        summary=path(LAYOUT.summary),
    output:
        predictions=path(LAYOUT.evaluation_predictions),
        estimates=path(LAYOUT.evaluation_estimates),
        differences=path(LAYOUT.evaluation_differences),
        curves=path(LAYOUT.evaluation_curves),
    log:
        log("evaluate_nested", "evaluate_nested"),
    benchmark:
        bench("evaluate_nested", "evaluate_nested")
    priority: PRIORITY_BETWEEN
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        chains={e: {fold: chain_steps(e, fold) for fold in FOLDS} for e in EMOTIONS},
        deployed={e: chain_steps(e) for e in EMOTIONS},
        tolerance=config["prune"]["tolerance"],
        settings=config["evaluation"],
    script:
        "../scripts/evaluate_nested.py"
