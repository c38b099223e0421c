from pathlib import Path

from snakemake.utils import validate

from emoflow.config import prepare_config

prepare_config(config, workflow.source_path("../schemas/config.schema.yaml"))
validate(config, schema="../schemas/config.schema.yaml")

N_SHARDS = config["landmarks"]["n_shards"]
N_ITERATIONS = config["prune"]["iterations"]
SHARDS = [str(shard) for shard in range(N_SHARDS)]
ITERATIONS = [str(iteration) for iteration in range(N_ITERATIONS + 1)]


wildcard_constraints:
    shard="|".join(SHARDS),
    iteration="|".join(ITERATIONS),


def get_dataset_labels():
    """The file that labels the videos: the demo's labels.csv or the user's CSV."""
    source = config["dataset"]["source"]
    if config["dataset"]["adapter"] == "demo":
        return f"{source}/labels.csv"
    return source


def get_ground_truth():
    """The demo's ground truth (which landmarks carry each emotion), if any."""
    if config["dataset"]["adapter"] == "demo":
        return f"{config['dataset']['source']}/ground_truth.json"
    return []


def previous_iteration(wildcards):
    iteration = int(wildcards.iteration)
    if iteration < 1:
        raise ValueError(
            f"iteration {iteration} has no previous iteration to prune from"
        )
    return iteration - 1


def get_prune_inputs(wildcards):
    previous = previous_iteration(wildcards)
    return {
        "attributions": f"results/iter_{previous}/attributions.zarr",
        "landmarks": f"results/iter_{previous}/landmarks.json",
        "metrics": [f"results/iter_{i}/metrics.json" for i in range(previous + 1)],
    }


def per_iteration(pattern):
    return [pattern.format(iteration=iteration) for iteration in ITERATIONS]


REPORT_FIGURES = [
    "accuracy_vs_landmarks.png",
    "relevance_on_face.png",
    "selected_landmarks.png",
    "confusion_matrix.png",
]


def get_final_outputs():
    return [
        "results/summary.parquet",
        "results/report/report.json",
        *[f"results/report/{figure}" for figure in REPORT_FIGURES],
    ]
