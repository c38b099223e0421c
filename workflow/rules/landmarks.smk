rule extract_landmarks:
    input:
        manifest="results/manifest.parquet",
    output:
        table="results/landmarks/shard_{shard}.parquet",
    log:
        "logs/extract_landmarks/{shard}.log",
    benchmark:
        "benchmarks/extract_landmarks/{shard}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        shard=lambda wildcards: int(wildcards.shard),
        n_shards=N_SHARDS,
        options=config["landmarks"],
    script:
        "../scripts/extract_landmarks.py"
