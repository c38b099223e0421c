rule build_features:
    input:
        manifest=path(LAYOUT.manifest),
        tables=[path(LAYOUT.landmark_shard(shard)) for shard in SHARDS],
    output:
        store=directory(path(LAYOUT.features)),
    log:
        log("build_features", "build_features"),
    benchmark:
        bench("build_features", "build_features")
    threads: job_threads(2)
    resources:
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=60,
    params:
        settings=config["features"],
    script:
        "../scripts/build_features.py"
