import os
import re

from emoflow.attribution import runtime_settings
from emoflow.comparison import CompareSettings
from emoflow.config import check_job_memory, kind_settings, validate_config
from emoflow.datasets import ADAPTERS
from emoflow.landmarks import extraction_mem_mb, extraction_settings, plan_shards
from emoflow.layout import SPLIT_WILDCARD, ResultsLayout
from emoflow.manifest import check_protocol, plan_manifest
from emoflow.runlock import ResultsLock
from emoflow.report import GLANCE_EMOTION_PAGE, RELEVANCE_FIGURE

# Check the configuration against the schema shipped in the package (command-line strings
# coerced, defaults filled); a ConfigError names each offending key with its allowed values.
_validated = validate_config(config)
config.clear()
config.update(_validated)

# Every path of the run comes from the package's one description of the results folder.
LAYOUT = ResultsLayout(config["results"])
# Held by the run that writes the results folder (the Snakefile's onstart/onsuccess/onerror).
RESULTS_LOCK = ResultsLock(config["results"])
EMOTIONS = list(config["dataset"]["emotions"])
N_ITERATIONS = config["prune"]["iterations"]
CHAIN_JOBS = config["prune"]["chain_jobs"]
ITERATIONS = [str(iteration) for iteration in range(N_ITERATIONS + 1)]
# GPUs a train/attribute job asks the scheduler for: none when the config pins the CPU.
GPU_PER_JOB = 0 if config["train"]["device"] == "cpu" else 1
# Which of the ready jobs a run starts first (Snakemake's `priority`, highest first): the short
# jobs between the chains and the report (gathering an iteration, the summary, the nested
# evaluation and its page, publishing), then the chains and the report's page, then the rest
# (the figures on the face, which no job waits for). The order only: no file changes.
PRIORITY_BETWEEN = 2
PRIORITY_CHAINS = 1
# Threads a job asks for, never more than this machine has. Given more --cores than the
# machine has (`--cores 8` on 2 cores), Snakemake runs more jobs side by side than there are
# cores, so each job's torch then uses its share of the machine (`torch_threads`), never all
# of it (cluster executors, whose core count is unbounded, are left alone).
CPUS = os.cpu_count() or 1
_GRANTED = workflow._cores  # --cores; None in a dry run without it


def job_threads(wanted):
    return max(1, min(wanted, CPUS))


def torch_threads(wildcards, threads):
    if isinstance(_GRANTED, int) and CPUS < _GRANTED <= 64 * CPUS:
        return max(1, threads * CPUS // _GRANTED)
    return threads


# The data set's adapter class (emoflow.datasets.ADAPTERS) answers what the workflow must know
# before the run: which file labels the videos, the videos themselves, the ground truth.
DATASET = ADAPTERS[config["dataset"]["adapter"]]


def get_dataset_labels():
    """The file that labels the videos (the demo's labels.csv, the user's CSV, ...)."""
    return DATASET.label_file(config["dataset"]["source"])


def get_ground_truth():
    """The data set's ground truth (which landmarks carry each emotion), if any."""
    return DATASET.ground_truth(config["dataset"]["source"]) or []


# The manifest as it will be, known now (the demo's from its settings): data that the training
# protocol cannot use is refused before anything runs, and each landmark shard depends on its
# own videos only, so a label fix or another video re-extracts no unchanged video.
PLANNED = plan_manifest(config)
check_job_memory(config, n_videos=PLANNED.height)
check_protocol(
    PLANNED,
    n_folds=config["train"]["n_folds"],
    test_subjects=config["train"]["test_subjects"],
    source=get_dataset_labels(),
    seed=config["train"]["seed"],
)


def count_shards():
    """landmarks.n_shards, raised so that no shard holds more than videos_per_shard videos."""
    n_shards = config["landmarks"]["n_shards"]
    per_shard = config["landmarks"].get("videos_per_shard")
    if per_shard:
        n_shards = max(n_shards, -(-PLANNED.height // per_shard))
    return n_shards


SHARD_PLAN = plan_shards(
    PLANNED, count_shards(), stat_files=not DATASET.made_by_workflow
)
SHARDS = [str(shard) for shard, planned in enumerate(SHARD_PLAN) if planned["videos"]]
# Memory each extraction job needs, from its videos' frame sizes and counts (headers read,
# no frame decoded; the demo's videos, made by the workflow, have the demo's size).
_MADE_SIZE = (config["demo"]["size"],) * 2 if DATASET.made_by_workflow else None
SHARD_MEM_MB = [
    extraction_mem_mb(planned["videos"], config["landmarks"], default_size=_MADE_SIZE)
    for planned in SHARD_PLAN
]


# Plain integer patterns: an alternation of every shard ("0|1|…|N") is matched against each
# job's files, which makes planning quadratic in the number of shards.
wildcard_constraints:
    shard=r"\d+",
    iteration=r"\d+",
    fold=r"\d+",
    # a chain's split below the results folder: "" (deployed) or "nested/fold_{k}/"
    split=r"(nested/fold_\d+/)?",
    emotion="|".join(re.escape(emotion) for emotion in EMOTIONS),


def path(value):
    """A layout path as the string Snakemake wants."""
    return str(value)


def log(rule, name):
    return path(LAYOUT.log(rule, name))


def bench(rule, name):
    return path(LAYOUT.benchmark(rule, name))


def per_emotion(method, iteration):
    """One path per emotion of an iteration, e.g. per_emotion(LAYOUT.metrics, "{iteration}")."""
    return [path(method(iteration, emotion)) for emotion in EMOTIONS]


def per_iteration(method):
    return [path(method(iteration)) for iteration in ITERATIONS]


# Outer folds of the nested evaluation (train.n_folds of the development subjects) and the
# iterations a prune_chain job runs (every one after 0).
FOLDS = [str(fold) for fold in range(config["train"]["n_folds"])]
LATER = [iteration for iteration in range(1, N_ITERATIONS + 1)]
STEP_FILES = ("landmarks", "model", "metrics", "scores", "attributions")
SPLIT = SPLIT_WILDCARD


def chain_outputs(iterations, emotions, fold=None):
    """The outputs of some steps of some chains, by kind (each a list over emotions, then
    iterations); attribution stores are folders."""
    files = {name: [] for name in STEP_FILES}
    for emotion in emotions:
        for iteration in iterations:
            step = LAYOUT.step(iteration, emotion, fold)
            for name in STEP_FILES:
                files[name].append(path(step[name]))
    files["attributions"] = [directory(store) for store in files["attributions"]]
    return files


# Every split of a run: the deployed one (None) and the nested evaluation's outer folds.
SPLIT_FOLDS = [None, *(int(fold) for fold in FOLDS)]


def start_outputs(folds):
    """Iteration 0 of every emotion's chain of every split of ``folds``, by kind (each a list
    over splits, then emotions), as one start_chains job writes them."""
    files = {name: [] for name in STEP_FILES}
    for fold in folds:
        for name, paths in chain_outputs([0], EMOTIONS, fold).items():
            files[name].extend(paths)
    return files


# What one chain job runs (prune.chain_jobs), as the chain rules' outputs and job names:
# split, a start job for every split and a prune job per split for every emotion; emotion, a
# start job per split and a prune job per emotion and split.
if CHAIN_JOBS == "split":
    START_OUTPUTS, START_JOB = start_outputs(SPLIT_FOLDS), "all"
    CHAIN_EMOTIONS, CHAIN_JOB = EMOTIONS, f"{SPLIT}all"
else:
    START_OUTPUTS, START_JOB = chain_outputs([0], EMOTIONS, SPLIT), f"{SPLIT}all"
    CHAIN_EMOTIONS, CHAIN_JOB = ["{emotion}"], f"{SPLIT}{{emotion}}"


def start_folds(wildcards):
    """The splits a start_chains job starts: every one, or its own (prune.chain_jobs)."""
    if "split" in wildcards.keys():
        return [LAYOUT.fold_of(wildcards.split)]
    return SPLIT_FOLDS


def start_threads(wildcards):
    """A core for each split a start_chains job starts (the splits run side by side in
    processes forked from the job), never more than this machine has."""
    return job_threads(len(start_folds(wildcards)))


def chain_emotions(wildcards):
    """The emotions whose chains a prune_chain job continues: every one, or its own."""
    return [wildcards.emotion] if "emotion" in wildcards.keys() else EMOTIONS


def get_chain_start(wildcards):
    """Iteration 0 of the chains a prune_chain job continues (deployed or outer fold)."""
    fold = LAYOUT.fold_of(wildcards.split)
    steps = [LAYOUT.step(0, emotion, fold) for emotion in chain_emotions(wildcards)]
    return {
        f"start_{name}": [path(step[name]) for step in steps] for name in STEP_FILES
    }


def chain_steps(emotion, fold=None, names=("metrics", "scores")):
    """One chain's files of every iteration, in order (the nested evaluation's inputs)."""
    return [
        {name: path(LAYOUT.step(i, emotion, fold)[name]) for name in names}
        for i in range(N_ITERATIONS + 1)
    ]


# Settings that cannot change a rule's output are no parameter of it (a change would re-run
# it for nothing): the attribution's batch and memory knobs (declared runtime=True in
# AttributionSettings) reach the job as resources instead.
ATTRIBUTION_SETTINGS, ATTRIBUTION_RUNTIME = runtime_settings(config["attribution"])

REPORT_FIGURES = [
    "data_quality.html",
    "validation_vs_test.html",
    "accuracy_vs_landmarks.png",
    "cost_vs_landmarks.png",
    "selected_landmarks.png",
    "confusion_matrix.png",
    "selected_confusion.png",
]


# The pruning baselines of prune.compare (none by default): compare.smk's jobs.
COMPARE = CompareSettings.from_section(config["prune"])


def get_comparison_tables():
    """Every emotion's baselines of every outer fold, when prune.compare names some."""
    if not COMPARE.compare:
        return []
    return [path(LAYOUT.comparison(e, fold)) for e in EMOTIONS for fold in FOLDS]


def get_final_outputs():
    return [
        path(LAYOUT.summary),
        path(LAYOUT.provenance),
        path(LAYOUT.published),
        path(LAYOUT.report / "report.json"),
        path(LAYOUT.report / "at_a_glance.html"),
        *[path(LAYOUT.report / figure) for figure in REPORT_FIGURES],
        path(LAYOUT.report / "evidence.html"),
        path(LAYOUT.report / "evidence.json"),
        path(LAYOUT.report / "accuracy_curves.png"),
        *[
            path(LAYOUT.report / RELEVANCE_FIGURE.format(emotion=emotion))
            for emotion in EMOTIONS
        ],
    ]


# One relevance figure per emotion, each its own report item labelled with the emotion (the
# report's search finds "surprise").
def relevance_figures():
    return {
        f"relevance_{emotion}": report(
            path(LAYOUT.report / RELEVANCE_FIGURE.format(emotion=emotion)),
            caption="../report/relevance.rst",
            category="4. Landmark relevance",
            labels={
                "#": f"1.{number}",
                "item": f"relevance on the face and by region: {emotion}",
                "emotion": emotion,
            },
        )
        for number, emotion in enumerate(EMOTIONS, start=1)
    }


# The results at a glance of each emotion: an item of the report's first category each,
# named and labelled with the emotion (the report's search matches an item's file name, so
# searching "surprise" finds it).
def glance_pages():
    return {
        f"glance_{emotion}": report(
            path(LAYOUT.report / GLANCE_EMOTION_PAGE.format(emotion=emotion)),
            caption="../report/glance_emotion.rst",
            category="0. Results at a glance",
            labels={
                "#": f"1.{number}",
                "item": f"at a glance: {emotion}",
                "emotion": emotion,
            },
        )
        for number, emotion in enumerate(EMOTIONS, start=1)
    }
