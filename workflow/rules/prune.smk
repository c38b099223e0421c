rule start_landmark_set:
    input:
        features="results/features.zarr",
    output:
        landmarks="results/iter_0/landmarks.json",
    log:
        "logs/start_landmark_set/start_landmark_set.log",
    benchmark:
        "benchmarks/start_landmark_set/start_landmark_set.tsv"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        start=config["prune"]["start"],
    script:
        "../scripts/start_landmark_set.py"


rule prune_landmarks:
    input:
        unpack(get_prune_inputs),
    output:
        landmarks="results/iter_{iteration}/landmarks.json",
    log:
        "logs/prune_landmarks/{iteration}.log",
    benchmark:
        "benchmarks/prune_landmarks/{iteration}.tsv"
    wildcard_constraints:
        iteration="[1-9][0-9]*",
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        settings={
            key: value
            for key, value in config["prune"].items()
            if key
            in (
                "policy",
                "fraction",
                "threshold",
                "share",
                "min_landmarks",
                "symmetric",
                "stop_tolerance",
            )
        },
        iteration=lambda wildcards: int(wildcards.iteration),
    script:
        "../scripts/prune_landmarks.py"


rule summarise_iterations:
    input:
        metrics=per_iteration("results/iter_{iteration}/metrics.json"),
    output:
        summary="results/summary.parquet",
    log:
        "logs/summarise_iterations/summarise_iterations.log",
    benchmark:
        "benchmarks/summarise_iterations/summarise_iterations.tsv"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        tolerance=config["prune"]["tolerance"],
    script:
        "../scripts/summarise_iterations.py"
