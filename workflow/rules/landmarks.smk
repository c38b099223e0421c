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
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=120,
    params:
        shard=lambda wildcards: int(wildcards.shard),
        n_shards=N_SHARDS,
        options={
            key: value
            for key, value in config["landmarks"].items()
            if key != "videos_per_shard"
        },
    script:
        "../scripts/extract_landmarks.py"
