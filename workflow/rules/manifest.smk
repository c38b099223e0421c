rule build_manifest:
    input:
        labels=get_dataset_labels(),
    output:
        manifest=path(LAYOUT.manifest),
    log:
        log("build_manifest", "build_manifest"),
    benchmark:
        bench("build_manifest", "build_manifest")
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        dataset=config["dataset"],
    script:
        "../scripts/build_manifest.py"
