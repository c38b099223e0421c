rule summarise_iterations:
    input:
        metrics=per_iteration(LAYOUT.metrics),
    output:
        summary=path(LAYOUT.summary),
    log:
        log("summarise_iterations", "summarise_iterations"),
    benchmark:
        bench("summarise_iterations", "summarise_iterations")
    priority: PRIORITY_BETWEEN
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        tolerance=config["prune"]["tolerance"],
    script:
        "../scripts/summarise_iterations.py"
