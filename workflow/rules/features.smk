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
    params:
        settings=config["features"],
    script:
        "../scripts/build_features.py"
