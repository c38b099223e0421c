rule build_manifest:
    input:
        labels=get_dataset_labels(),
    output:
        manifest="results/manifest.parquet",
    log:
        "logs/build_manifest/build_manifest.log",
    benchmark:
        "benchmarks/build_manifest/build_manifest.tsv"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        adapter=config["dataset"]["adapter"],
        emotions=config["dataset"]["emotions"],
        options=config["dataset"].get(config["dataset"]["adapter"], {}),
    script:
        "../scripts/build_manifest.py"
