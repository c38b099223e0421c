from emoflow.layout import ResultsLayout
from emoflow.pruning import PruneSettings

_LAYOUT = ResultsLayout()


rule start_landmark_set:
    input:
        features=str(_LAYOUT.features),
    output:
        landmarks=str(_LAYOUT.landmark_sets(0)),
    log:
        "logs/start_landmark_set/start_landmark_set.log",
    benchmark:
        "benchmarks/start_landmark_set/start_landmark_set.tsv"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        start=config["prune"]["start"],
    script:
        "../scripts/start_landmark_set.py"


rule prune_landmarks:
    input:
        unpack(get_prune_inputs),
    output:
        landmarks=str(_LAYOUT.landmark_sets("{iteration}")),
    log:
        "logs/prune_landmarks/{iteration}.log",
    benchmark:
        "benchmarks/prune_landmarks/{iteration}.tsv"
    wildcard_constraints:
        iteration="[1-9][0-9]*",
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        # the section minus the keys of other stages; an unknown key is a ConfigError
        settings=PruneSettings.keys_from(config["prune"]),
        iteration=lambda wildcards: int(wildcards.iteration),
    script:
        "../scripts/prune_landmarks.py"


rule summarise_iterations:
    input:
        metrics=per_iteration(str(_LAYOUT.metrics("{iteration}"))),
    output:
        summary=str(_LAYOUT.summary),
    log:
        "logs/summarise_iterations/summarise_iterations.log",
    benchmark:
        "benchmarks/summarise_iterations/summarise_iterations.tsv"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        tolerance=config["prune"]["tolerance"],
    script:
        "../scripts/summarise_iterations.py"
