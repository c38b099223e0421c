rule prune_landmarks:
    input:
        unpack(get_prune_inputs),
    output:
        landmarks=path(LAYOUT.landmark_sets("{iteration}", "{emotion}")),
    log:
        log("prune_landmarks", "{iteration}_{emotion}"),
    benchmark:
        bench("prune_landmarks", "{iteration}_{emotion}")
    wildcard_constraints:
        iteration="[1-9][0-9]*",
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        settings=PRUNE_SETTINGS,
        iteration=lambda wildcards: int(wildcards.iteration),
    script:
        "../scripts/prune_landmarks.py"


rule summarise_iterations:
    input:
        metrics=per_iteration(LAYOUT.metrics),
    output:
        summary=path(LAYOUT.summary),
    log:
        log("summarise_iterations", "summarise_iterations"),
    benchmark:
        bench("summarise_iterations", "summarise_iterations")
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        tolerance=config["prune"]["tolerance"],
    script:
        "../scripts/summarise_iterations.py"
