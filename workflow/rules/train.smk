rule train_models:
    input:
        features="results/features.zarr",
        landmarks="results/iter_{iteration}/landmarks.json",
    output:
        models=directory("results/iter_{iteration}/models"),
        metrics="results/iter_{iteration}/metrics.json",
        scores="results/iter_{iteration}/scores.parquet",
    log:
        "logs/train_models/{iteration}.log",
    benchmark:
        "benchmarks/train_models/{iteration}.tsv"
    threads: 4
    resources:
        gpu=GPU_PER_JOB,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=60,
    params:
        network=config["train"]["model"],
        n_folds=config["train"]["n_folds"],
        seed=config["train"]["seed"],
        device=config["train"]["device"],
        backprop=config["train"]["backprop"],
        selection=config["train"]["selection"],
        calibration=config["train"]["calibration"],
        test_subjects=config["train"]["test_subjects"],
        iteration=lambda wildcards: int(wildcards.iteration),
    script:
        "../scripts/train_models.py"
