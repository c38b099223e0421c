from emoflow.layout import ResultsLayout

_LAYOUT = ResultsLayout()


rule attribute_models:
    input:
        features=str(_LAYOUT.features),
        landmarks=str(_LAYOUT.landmark_sets("{iteration}")),
        models=str(_LAYOUT.models("{iteration}")),
        metrics=str(_LAYOUT.metrics("{iteration}")),
    output:
        store=directory(str(_LAYOUT.attributions("{iteration}"))),
    log:
        "logs/attribute_models/{iteration}.log",
    benchmark:
        "benchmarks/attribute_models/{iteration}.tsv"
    threads: 4
    resources:
        gpu=GPU_PER_JOB,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=120,
    params:
        settings=config["attribution"],
        device=config["train"]["device"],
        iteration=lambda wildcards: int(wildcards.iteration),
    script:
        "../scripts/attribute_models.py"
