"""An emotion's pruning chain: each step's landmark set, its model trained on that set, and
the model's attribution.

A chain runs on the deployed split (every development subject; scored on the held-out test
subjects) or on one outer fold of the nested evaluation (``outer_fold``: the fold's training
subjects only; scored on the fold's own subjects). The workflow runs iteration 0 of every
emotion of every split in one job (:func:`start_splits`: the splits side by side in processes
forked from the job, one per granted core; one job per split with ``prune.chain_jobs:
emotion``) and the later iterations of a split's chains in another
(:func:`run_chains`: every emotion's, or one emotion's with ``prune.chain_jobs: emotion``): a
process pays for starting Python and importing torch once per job instead of once per step,
and a changed pruning setting still re-runs the chains from iteration 1 only.

Each step (:func:`chain_step`) writes the step's landmark set (iteration 0: the start set;
later ones: pruned by the previous iteration's relevance, :mod:`emoflow.pruning`), then trains
and attributes (:func:`train_and_attribute`). Its outputs stay separate files, each written by
its owner in :mod:`emoflow.storage` (``landmark_sets``, ``model_file``, ``metrics``,
``attribution_store``).

A job's training reads the feature store once (:class:`SplitData`: the split's training
protocol), and the emotions of a job that train on the same landmarks (iteration 0) share the
development kernel
(:class:`emoflow.models.SharedProducts`).
"""

from __future__ import annotations

import functools
import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emoflow._atomic import atomic_path
from emoflow._forked import forks, run_forked
from emoflow.attribution import attribute_emotion
from emoflow.errors import ConfigError
from emoflow.pruning import PruneSettings, initial_landmark_set
from emoflow.pruning.pruner import prune_iteration
from emoflow.storage.landmark_sets import read_landmark_record
from emoflow.storage.metrics import read_metrics, write_metrics
from emoflow.training import train_emotion
from emoflow.training.per_emotion import training_protocol

if TYPE_CHECKING:
    from emoflow.training.iteration import Protocol

__all__ = [
    "PREVIOUS_OUTPUTS",
    "STEP_OUTPUTS",
    "SplitData",
    "chain_files",
    "chain_step",
    "run_chain",
    "run_chains",
    "start_chains",
    "start_files",
    "start_splits",
    "train_and_attribute",
]

log = logging.getLogger(__name__)

PREVIOUS_OUTPUTS = ("model", "metrics", "scores", "attributions")
"""The outputs of an emotion's previous iteration that a stopped chain carries forward."""
STEP_OUTPUTS = ("landmarks", *PREVIOUS_OUTPUTS)
"""The files of one step of a chain, by name (:meth:`emoflow.layout.ResultsLayout.step`)."""


class SplitData:
    """What a chain job reads once for all its steps: the feature store, as the split's
    training protocol (:func:`emoflow.training.per_emotion.training_protocol`: development samples,
    folds, the held-out or outer-fold samples, the shared products of the landmarks last
    trained on), built on first use.

    Parameters
    ----------
    features_path
        The feature store.
    train
        The ``train`` config section.
    outer_fold
        ``None`` for the deployed chain; else the nested evaluation's outer fold.
    """

    def __init__(
        self,
        features_path: str | Path,
        train: Mapping[str, Any] | None = None,
        outer_fold: int | None = None,
    ) -> None:
        self.features_path = features_path
        self.train = train
        self.outer_fold = outer_fold
        self._protocol: Protocol | None = None

    def protocol(self) -> Protocol:
        """The split's training protocol, read from the store on first use."""
        if self._protocol is None:
            self._protocol = training_protocol(
                self.features_path, self.train, outer_fold=self.outer_fold
            )
        return self._protocol


def _carry_forward(
    previous: Mapping[str, str | Path], outputs: Mapping[str, str | Path], iteration: int
) -> dict[str, Any]:
    """Copy the previous iteration's outputs (its metrics re-labelled with ``iteration``)."""
    metrics = read_metrics(previous["metrics"])
    metrics["iteration"] = iteration
    for name in ("model", "scores"):
        with atomic_path(outputs[name]) as staged:
            shutil.copyfile(previous[name], staged)
    with atomic_path(outputs["attributions"], directory=True) as staged:
        shutil.copytree(previous["attributions"], staged, dirs_exist_ok=True)
    write_metrics(outputs["metrics"], metrics)
    return metrics


def train_and_attribute(
    features_path: str | Path,
    emotion: str,
    paths: Mapping[str, str | Path],
    *,
    train: Mapping[str, Any] | None = None,
    attribution: Mapping[str, Any] | None = None,
    runtime: Any = None,
    iteration: int = 0,
    threads: int | None = None,
    previous: Mapping[str, str | Path] | None = None,
    outer_fold: int | None = None,
    data: SplitData | None = None,
) -> dict[str, Any]:
    """Train one emotion's model of one iteration and write its attribution store.

    An emotion whose pruning has stopped (``prune.stop_tolerance``: its ``landmarks.json``
    says ``stopped``) keeps the previous iteration's set, so its chain ends: given the
    ``previous`` iteration's outputs (:data:`PREVIOUS_OUTPUTS`), they are carried forward
    instead of trained again (the same numbers, without the work).

    Parameters
    ----------
    paths
        The step's files by name (:data:`STEP_OUTPUTS`): its landmark set (read) and the
        model, metrics, scores and attribution store (written).
    train
        The ``train`` config section (:func:`emoflow.training.train_emotion`); its ``device``
        is the attribution's too.
    attribution, runtime
        The ``attribution`` section without its run-time knobs, and where those are
        (:func:`emoflow.attribution.attribute_emotion`).
    outer_fold
        ``None`` for the deployed chain; else the outer fold of the nested evaluation whose
        training subjects alone are trained on and attributed (the attribution leaves out the
        subjects the metrics' split names).
    data
        The job's :class:`SplitData` of ``features_path``, ``train`` and ``outer_fold`` (read
        once for all the job's steps); ``None`` reads the store for this step alone.

    Returns
    -------
    dict
        The emotion's metrics record.
    """
    landmark_set_path = paths["landmarks"]
    stopped = read_landmark_record(landmark_set_path).get("stopped", {}).get(emotion, False)
    if stopped and previous:
        log.info(
            "%s: pruning stopped; iteration %d carries the last model forward", emotion, iteration
        )
        return _carry_forward(previous, paths, iteration)
    if data is None:
        data = SplitData(features_path, train, outer_fold)
    protocol = data.protocol()
    metrics = train_emotion(
        features_path,
        landmark_set_path,
        emotion,
        paths["model"],
        paths["metrics"],
        paths["scores"],
        train=train,
        iteration=iteration,
        threads=threads,
        protocol=protocol,
    )
    attribute_emotion(
        features_path,
        landmark_set_path,
        paths["model"],
        paths["attributions"],
        emotion=emotion,
        settings=attribution,
        runtime=runtime,
        device=str((train or {}).get("device", "auto")),
        iteration=iteration,
        metrics_path=paths["metrics"],
    )
    return metrics


def chain_step(
    features_path: str | Path,
    emotion: str,
    paths: Mapping[str, str | Path],
    *,
    iteration: int,
    start: str | None = None,
    prune: Mapping[str, Any] | None = None,
    previous: Mapping[str, str | Path | None] | None = None,
    earlier_metrics: Sequence[str | Path] = (),
    train: Mapping[str, Any] | None = None,
    attribution: Mapping[str, Any] | None = None,
    runtime: Any = None,
    threads: int | None = None,
    outer_fold: int | None = None,
    data: SplitData | None = None,
) -> dict[str, Any]:
    """One step of an emotion's chain: write its landmark set, then train and attribute.

    Iteration 0 starts from ``start`` (``prune.start``, default ``all``:
    :func:`emoflow.pruning.initial_landmark_set`); a later
    iteration prunes the previous one's set by its relevance with the ``prune`` section
    (:func:`emoflow.pruning.pruner.prune_iteration`; ``earlier_metrics``, the emotion's
    ``metrics.json`` of iterations 0 … ``iteration`` − 1, for early stopping). Then
    :func:`train_and_attribute` on that set.

    Parameters
    ----------
    paths
        The step's outputs by name (:data:`STEP_OUTPUTS`).
    previous
        The previous iteration's outputs by name: ``landmarks`` and ``attributions`` (needed
        from iteration 1), ``model``, ``metrics`` and ``scores`` (carried forward when the
        emotion's pruning has stopped, :data:`PREVIOUS_OUTPUTS`).

    Returns
    -------
    dict
        The emotion's metrics record.
    """
    given: dict[str, str | Path] = {name: path for name, path in (previous or {}).items() if path}
    landmark_set_path = paths["landmarks"]
    if iteration == 0:
        initial_landmark_set(
            features_path, landmark_set_path, landmarks=start or "all", emotions=[emotion]
        )
    else:
        missing = [name for name in ("landmarks", "attributions") if name not in given]
        if missing:
            raise ConfigError(
                f"iteration {iteration} of {emotion} is pruned from the previous iteration's "
                f"{' and '.join(missing)}, which were not given"
            )
        prune_iteration(
            given["attributions"],
            given["landmarks"],
            landmark_set_path,
            settings=PruneSettings.from_section(prune),
            iteration=iteration,
            metrics_paths=earlier_metrics,
        )
    return train_and_attribute(
        features_path,
        emotion,
        paths,
        train=train,
        attribution=attribution,
        runtime=runtime,
        iteration=iteration,
        threads=threads,
        previous={name: given[name] for name in PREVIOUS_OUTPUTS if name in given},
        outer_fold=outer_fold,
        data=data,
    )


def _step_paths(step: Mapping[str, str | Path], where: str) -> dict[str, str | Path]:
    missing = [name for name in STEP_OUTPUTS if not step.get(name)]
    if missing:
        raise ConfigError(f"{where}: no path for {', '.join(missing)}")
    return {name: step[name] for name in STEP_OUTPUTS}


def start_chains(
    features_path: str | Path,
    steps: Mapping[str, Mapping[str, str | Path]],
    *,
    start: str | None = None,
    train: Mapping[str, Any] | None = None,
    attribution: Mapping[str, Any] | None = None,
    runtime: Any = None,
    threads: int | None = None,
    outer_fold: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Iteration 0 of every emotion's chain of one split: each emotion's start set, model and
    attribution (:func:`chain_step`), in one process.

    Parameters
    ----------
    steps
        Emotion → the step's output paths by name (:data:`STEP_OUTPUTS`).
    outer_fold
        ``None``: the deployed chains; else the nested evaluation's outer fold.

    Returns
    -------
    dict
        Emotion → its metrics record.
    """
    data = SplitData(features_path, train, outer_fold)
    options = {"train": train, "attribution": attribution, "runtime": runtime, "threads": threads}
    return {
        emotion: chain_step(
            features_path,
            emotion,
            _step_paths(step, f"iteration 0 of {emotion}"),
            iteration=0,
            start=start,
            outer_fold=outer_fold,
            data=data,
            **options,
        )
        for emotion, step in steps.items()
    }


def run_chain(
    features_path: str | Path,
    emotion: str,
    steps: Sequence[Mapping[str, str | Path]],
    *,
    train: Mapping[str, Any] | None = None,
    outer_fold: int | None = None,
    data: SplitData | None = None,
    **options: Any,
) -> list[dict[str, Any]]:
    """Iterations 1 … N of one emotion's chain, in one process: each prunes the previous
    iteration's set by its relevance, then trains and attributes (:func:`chain_step`, with
    the keyword ``options`` ``prune``, ``attribution``, ``runtime``, ``threads``).

    Parameters
    ----------
    steps
        The output paths of iterations 0 … N by name (:data:`STEP_OUTPUTS`); iteration 0's
        files are read (written by :func:`start_chains`), the others written.
    data
        The job's :class:`SplitData` (shared by the chains of one job); ``None`` reads the
        store for this chain.

    Returns
    -------
    list of dict
        The metrics records of iterations 1 … N.
    """
    paths = [_step_paths(step, f"iteration {i} of {emotion}") for i, step in enumerate(steps)]
    data = data if data is not None else SplitData(features_path, train, outer_fold)
    return [
        chain_step(
            features_path,
            emotion,
            paths[iteration],
            iteration=iteration,
            previous=paths[iteration - 1],
            earlier_metrics=[step["metrics"] for step in paths[:iteration]],
            train=train,
            outer_fold=outer_fold,
            data=data,
            **options,
        )
        for iteration in range(1, len(paths))
    ]


def _steps(
    files: Mapping[str, Any], what: str, *, count: int | None = None, per: int = 1
) -> list[dict[str, str | Path]]:
    """A job's steps, in the workflow's order, from its lists of files by name
    (:data:`STEP_OUTPUTS`; a single path stands for a list of one): ``count`` of them, or a
    multiple of ``per``."""
    listed = {
        name: [files[name]] if isinstance(files[name], str | Path) else list(files[name])
        for name in STEP_OUTPUTS
    }
    sizes = sorted({len(paths) for paths in listed.values()})
    n = sizes[0]
    if len(sizes) > 1 or (count is not None and n != count) or n % max(per, 1):
        raise ConfigError(f"the files of {what} do not match: {sizes} per name")
    return [{name: listed[name][i] for name in STEP_OUTPUTS} for i in range(n)]


def chain_files(
    emotions: Sequence[str],
    start: Mapping[str, str | Path | Sequence[str | Path]],
    later: Mapping[str, str | Path | Sequence[str | Path]],
) -> dict[str, list[dict[str, str | Path]]]:
    """The chains of a job's emotions, as :func:`run_chains` takes them, from the workflow's
    lists of files by name (:data:`STEP_OUTPUTS`): ``start``, iteration 0 of each emotion;
    ``later``, iterations 1 … N of each emotion, emotion after emotion (a single path where
    a list has one item)."""
    what = f"{len(emotions)} emotions' chains"
    firsts = _steps(start, what, count=len(emotions))
    rest = _steps(later, what, per=len(emotions))
    n_later = len(rest) // max(len(emotions), 1)
    return {
        emotion: [firsts[e], *rest[e * n_later : (e + 1) * n_later]]
        for e, emotion in enumerate(emotions)
    }


def start_files(
    folds: Sequence[int | None],
    emotions: Sequence[str],
    outputs: Mapping[str, str | Path | Sequence[str | Path]],
) -> dict[int | None, dict[str, dict[str, str | Path]]]:
    """Iteration 0 of a job's chains, as :func:`start_splits` takes them, from the workflow's
    lists of files by name (:data:`STEP_OUTPUTS`): split after split (``folds``: ``None``,
    the deployed split, or an outer fold), emotion after emotion within each."""
    what = f"{len(folds)} splits × {len(emotions)} emotions"
    steps = _steps(outputs, what, count=len(folds) * len(emotions))
    return {
        fold: {emotion: steps[f * len(emotions) + e] for e, emotion in enumerate(emotions)}
        for f, fold in enumerate(folds)
    }


def start_splits(
    features_path: str | Path,
    splits: Mapping[int | None, Mapping[str, Mapping[str, str | Path]]],
    *,
    workers: int = 1,
    threads: int | None = None,
    **options: Any,
) -> dict[int | None, dict[str, dict[str, Any]]]:
    """Iteration 0 of every emotion's chain of several splits (fold → emotion → the step's
    output paths; :func:`start_chains` each, with the same keyword ``options``).

    The splits are independent: up to ``workers`` of them run at once, each in a process
    forked from this one after its imports, on one thread (:func:`emoflow._forked.run_forked`;
    one after another on ``threads``, where there is no ``fork`` or one worker). Every split's
    files are the same either way.

    Returns
    -------
    dict
        Fold (``None``: the deployed split) → emotion → its metrics record.
    """
    if forks(len(splits), workers):
        threads = 1  # each forked process's one
    pieces = [
        functools.partial(
            start_chains, features_path, steps, outer_fold=fold, threads=threads, **options
        )
        for fold, steps in splits.items()
    ]
    return dict(zip(splits, run_forked(pieces, workers), strict=True))


def run_chains(
    features_path: str | Path,
    chains: Mapping[str, Sequence[Mapping[str, str | Path]]],
    *,
    train: Mapping[str, Any] | None = None,
    outer_fold: int | None = None,
    **options: Any,
) -> dict[str, list[dict[str, Any]]]:
    """Iterations 1 … N of several emotions' chains of one split, one chain after another in
    one process that reads the feature store once (:func:`run_chain` each, with the same
    keyword ``options``: ``prune``, ``attribution``, ``runtime``, ``threads``).

    Parameters
    ----------
    chains
        Emotion → the output paths of its iterations 0 … N (as :func:`run_chain`'s
        ``steps``).

    Returns
    -------
    dict
        Emotion → the metrics records of its iterations 1 … N.
    """
    data = SplitData(features_path, train, outer_fold)
    return {
        emotion: run_chain(
            features_path, emotion, steps, train=train, outer_fold=outer_fold, data=data, **options
        )
        for emotion, steps in chains.items()
    }
