rule attribute_models:
    input:
        features="results/features.zarr",
        landmarks="results/iter_{iteration}/landmarks.json",
        models="results/iter_{iteration}/models",
        metrics="results/iter_{iteration}/metrics.json",
    output:
        store=directory("results/iter_{iteration}/attributions.zarr"),
    log:
        "logs/attribute_models/{iteration}.log",
    benchmark:
        "benchmarks/attribute_models/{iteration}.tsv"
    threads: 4
    resources:
        gpu=GPU_PER_JOB,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=120,
    params:
        settings=config["attribution"],
        device=config["train"]["device"],
        iteration=lambda wildcards: int(wildcards.iteration),
    script:
        "../scripts/attribute_models.py"
