rule attribute_models:
    input:
        features=path(LAYOUT.features),
        landmarks=path(LAYOUT.landmark_sets("{iteration}", "{emotion}")),
        model=path(LAYOUT.model("{iteration}", "{emotion}")),
        metrics=path(LAYOUT.metrics("{iteration}", "{emotion}")),
    output:
        store=directory(path(LAYOUT.attributions("{iteration}", "{emotion}"))),
    log:
        log("attribute_models", "{iteration}_{emotion}"),
    benchmark:
        bench("attribute_models", "{iteration}_{emotion}")
    threads: job_threads(2)
    resources:
        gpu=GPU_PER_JOB,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=120,
        # batch and memory knobs: how the job runs, not what it computes (no parameter)
        **ATTRIBUTION_RUNTIME,
    params:
        settings=ATTRIBUTION_SETTINGS,
        device=config["train"]["device"],
        iteration=lambda wildcards: int(wildcards.iteration),
    script:
        "../scripts/attribute_models.py"
