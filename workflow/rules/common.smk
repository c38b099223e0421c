from pathlib import Path

from emoflow.config import validate_config
from emoflow.datasets import ADAPTERS

# Check the configuration against the schema shipped in the package (command-line strings
# coerced, defaults filled); a ConfigError names each offending key with its allowed values.
_validated = validate_config(config)
config.clear()
config.update(_validated)


# The data set's adapter class (emoflow.datasets.ADAPTERS) answers what the workflow must know
# before the run: which file labels the videos, how many videos there are, the ground truth.
DATASET = ADAPTERS[config["dataset"]["adapter"]]


def count_videos():
    """Videos in the data set, known before the run (for sizing the landmark shards); None
    when it cannot be known yet."""
    return DATASET.count_videos(config)


def count_shards():
    """landmarks.n_shards, raised so that no shard holds more than videos_per_shard videos."""
    n_shards = config["landmarks"]["n_shards"]
    per_shard = config["landmarks"].get("videos_per_shard")
    n_videos = count_videos() if per_shard else None
    if n_videos:
        n_shards = max(n_shards, -(-n_videos // per_shard))
    return n_shards


N_SHARDS = count_shards()
N_ITERATIONS = config["prune"]["iterations"]
SHARDS = [str(shard) for shard in range(N_SHARDS)]
ITERATIONS = [str(iteration) for iteration in range(N_ITERATIONS + 1)]
# GPUs a train/attribute job asks the scheduler for: none when the config pins the CPU.
GPU_PER_JOB = 0 if config["train"]["device"] == "cpu" else 1


# Plain integer patterns: an alternation of every shard ("0|1|…|N") is matched against each
# job's files, which makes planning quadratic in the number of shards.
wildcard_constraints:
    shard=r"\d+",
    iteration=r"\d+",


def get_dataset_labels():
    """The file that labels the videos (the demo's labels.csv, the user's CSV, ...)."""
    return DATASET.label_file(config["dataset"]["source"])


def get_ground_truth():
    """The data set's ground truth (which landmarks carry each emotion), if any."""
    return DATASET.ground_truth(config["dataset"]["source"]) or []


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
        "results/provenance.json",
        "results/report/report.json",
        *[f"results/report/{figure}" for figure in REPORT_FIGURES],
    ]
