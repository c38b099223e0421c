# The run's last step: what `emoflow predict` and `emoflow explain` read (each emotion's
# selected iteration, every model file, the stores explain takes its baselines from) with
# their digests, in one record replaced atomically (emoflow.published). A reader checks every
# file against it, so it gets this run or the one before whole, or a clear error while a run
# rewrites the folder. Not the provenance record (what predict says the models were trained
# on): a change of any setting rewrites it, and would publish again for nothing.
rule publish_results:
    input:
        summary=path(LAYOUT.summary),
        models=[path(LAYOUT.model(i, e)) for i in ITERATIONS for e in EMOTIONS],
        features=path(LAYOUT.features),
        attributions=[
            path(LAYOUT.attributions(i, e)) for i in ITERATIONS for e in EMOTIONS
        ],
    output:
        published=path(LAYOUT.published),
    log:
        log("publish_results", "publish_results"),
    benchmark:
        bench("publish_results", "publish_results")
    priority: PRIORITY_BETWEEN
    resources:
        mem_mb=2000,
        runtime=15,
    script:
        "../scripts/publish_results.py"
