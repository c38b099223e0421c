rule build_features:
    input:
        manifest="results/manifest.parquet",
        tables=expand("results/landmarks/shard_{shard}.parquet", shard=SHARDS),
    output:
        store=directory("results/features.zarr"),
    log:
        "logs/build_features/build_features.log",
    benchmark:
        "benchmarks/build_features/build_features.tsv"
    threads: 2
    resources:
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=60,
    params:
        settings=config["features"],
    script:
        "../scripts/build_features.py"
