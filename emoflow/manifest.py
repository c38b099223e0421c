"""Manifests: one table listing every video of a data set with its subject and emotion label.

A manifest is a Parquet file sorted by ``video_id`` with at least the columns of
:data:`~emoflow.storage.manifest.MANIFEST_SCHEMA`; adapters add their own columns after them.
``path`` is absolute or relative to the working directory: paths in label files are taken
relative to the label file's folder and rewritten so that they resolve from the working
directory. Columns the later stages honour: ``start_s``/``end_s`` (time window of a video,
seconds) and ``landmarks_format`` (with ``landmarks_fps``, ``landmarks_width``,
``landmarks_height`` and ``landmarks_units``: the row's ``path`` is a precomputed landmark
file to import).

The data sets are read by the adapters of :mod:`emoflow.datasets` (registry
:data:`ADAPTERS`): ``demo``, ``csv``, ``ravdess``, ``ckplus``, ``landmarks_csv``,
``landmarks_parquet``; each adapter's class documents its source and options. For adapters
whose label sets are fixed by the data set (``ravdess``, ``ckplus``), videos whose emotion is
not among the configured ``emotions`` are dropped (counted in the log); for the other adapters
such a label is an error.

:func:`build_manifest` makes the manifest; the file ``manifest.parquet`` is
:mod:`emoflow.storage.manifest`'s (its columns, :func:`~emoflow.storage.manifest.write_manifest`,
:func:`~emoflow.storage.manifest.read_manifest`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from emoflow.datasets import ADAPTERS, DatasetAdapter
from emoflow.datasets.base import listing
from emoflow.datasets.demo import DEMO_LABELS
from emoflow.errors import ConfigError, InputError
from emoflow.storage.manifest import MANIFEST_COLUMNS, write_manifest

logger = logging.getLogger(__name__)


def _keep_emotions(table: pl.DataFrame, source: Path, emotions: Sequence[str]) -> pl.DataFrame:
    """Drop (and log) the rows whose emotion is not among ``emotions``."""
    outside = table.filter(~pl.col("emotion").is_in(list(emotions)))
    if outside.height:
        counts = outside.group_by("emotion").len().sort("emotion")
        listing = ", ".join(f"{row[0]} ({row[1]})" for row in counts.iter_rows())
        logger.info(
            "%s: %d videos dropped, their emotions are not configured: %s",
            source,
            outside.height,
            listing,
        )
    kept = table.filter(pl.col("emotion").is_in(list(emotions)))
    if kept.height == 0:
        found = ", ".join(sorted(table["emotion"].unique().to_list()))
        raise InputError(
            source,
            f"no video has one of the configured emotions ({', '.join(emotions)}); its "
            f"labels are {found}",
        )
    return kept


def _validate(
    table: pl.DataFrame,
    label_file: Path,
    *,
    emotions: Sequence[str] | None,
    check_files: bool,
) -> pl.DataFrame:
    """Check a raw manifest and return it sorted by ``video_id``, core columns first."""
    if table.height == 0:
        raise InputError(label_file, "lists no videos (the manifest would be empty)")
    counts = table.group_by("video_id").len().filter(pl.col("len") > 1).sort("video_id")
    if counts.height:
        duplicates = [f"{row[0]} ({row[1]} rows)" for row in counts.iter_rows()]
        raise InputError(label_file, f"duplicate video_id(s): {listing(duplicates)}")
    if emotions is not None:
        allowed = list(dict.fromkeys(emotions))
        unknown = sorted(set(table["emotion"].unique().to_list()) - set(allowed))
        if unknown:
            raise InputError(
                label_file,
                f"label(s) {', '.join(unknown)} are not among the configured emotions; "
                f"allowed: {', '.join(allowed)}",
            )
    if check_files:
        paths = list(dict.fromkeys(table["path"].to_list()))
        missing = [path for path in paths if not Path(path).exists()]
        if missing:
            raise InputError(
                label_file, f"{len(missing)} listed video file(s) do not exist: {listing(missing)}"
            )
    extras = [name for name in table.columns if name not in MANIFEST_COLUMNS]
    return table.select(*MANIFEST_COLUMNS, *extras).sort("video_id")


def build_manifest(
    adapter: str,
    source: str | Path,
    out_path: str | Path,
    *,
    emotions: Sequence[str] | None = None,
    check_files: bool = True,
    options: Mapping[str, Any] | None = None,
) -> pl.DataFrame:
    """Read a data set's labels with an adapter, check them and write the manifest.

    Parameters
    ----------
    adapter
        A name of :data:`ADAPTERS` (see :mod:`emoflow.datasets`).
    source
        What the adapter reads: a demo folder (or its ``labels.csv``), a CSV/TSV label file,
        the RAVDESS folder, or the CK+ folder.
    out_path
        The manifest Parquet file, written atomically.
    emotions
        Labels allowed. Any other label is an error, except for ``ravdess`` and ``ckplus``,
        where those videos are dropped and counted in the log. ``None`` allows all.
    check_files
        Check that every listed video file (or frame folder, or landmark file) exists.
    options
        The adapter's options (``None``: its defaults); unknown options are an error.

    Returns
    -------
    polars.DataFrame
        The manifest as written: sorted by ``video_id``,
        :data:`~emoflow.storage.manifest.MANIFEST_SCHEMA` columns first, adapter columns after.

    Raises
    ------
    ConfigError
        Unknown adapter, unknown option or invalid option value.
    InputError
        Label file missing, unparsable or lacking columns; empty cells, duplicate
        ``video_id``, labels outside ``emotions``, missing video files, or no rows; the
        label file is named.
    """
    if adapter not in ADAPTERS:
        raise ConfigError(
            f"unknown manifest adapter {adapter!r} for {source}; "
            f"valid adapters: {', '.join(sorted(ADAPTERS))}"
        )
    reader = ADAPTERS[adapter](options)
    label_file, table = reader.read(Path(source))
    if emotions is not None and reader.fixed_labels and table.height:
        table = _keep_emotions(table, label_file, emotions)
    manifest = _validate(table, label_file, emotions=emotions, check_files=check_files)
    if emotions is not None:
        absent = [name for name in emotions if name not in set(manifest["emotion"].to_list())]
        if absent:
            logger.warning(
                "%s: no video is labelled %s (configured emotions without videos)",
                label_file,
                ", ".join(absent),
            )
    write_manifest(manifest, out_path)
    logger.info(
        "manifest %s: %d videos, %d subjects, emotions %s (from %s)",
        out_path,
        manifest.height,
        manifest["subject"].n_unique(),
        ", ".join(sorted(manifest["emotion"].unique().to_list())),
        label_file,
    )
    return manifest


__all__ = [
    "ADAPTERS",
    "DEMO_LABELS",
    "DatasetAdapter",
    "build_dataset_manifest",
    "build_manifest",
    "check_protocol",
    "plan_manifest",
]


def build_dataset_manifest(
    dataset: Mapping[str, Any], source: str | Path, out_path: str | Path
) -> pl.DataFrame:
    """:func:`build_manifest` from the ``dataset`` config section (as the workflow passes it):
    its ``adapter``, ``emotions`` and the adapter's own options section."""
    adapter = dataset["adapter"]
    return build_manifest(
        adapter, source, out_path, emotions=dataset["emotions"], options=dataset.get(adapter)
    )


def plan_manifest(config: Mapping[str, Any]) -> pl.DataFrame | None:
    """The manifest :func:`build_manifest` will write for a workflow configuration, known
    before the run (``None`` when the data set cannot be read yet); nothing is written.

    The demo's is planned from its settings; other data sets are read as they are now.
    Files are not checked here (:func:`build_manifest` does that when it runs).
    """
    dataset = config["dataset"]
    name = dataset["adapter"]
    if name not in ADAPTERS:
        raise ConfigError(f"unknown manifest adapter {name!r}; valid: {', '.join(ADAPTERS)}")
    adapter = ADAPTERS[name](dataset.get(name))
    planned = adapter.planned(Path(dataset["source"]), config)
    if planned is None:
        return None
    label_file, table = planned
    emotions = dataset["emotions"]
    if adapter.fixed_labels and table.height:
        table = _keep_emotions(table, label_file, emotions)
    return _validate(table, label_file, emotions=emotions, check_files=False)


def check_protocol(
    manifest: pl.DataFrame,
    *,
    n_folds: int,
    test_subjects: int,
    source: str | Path,
    seed: int = 0,
) -> None:
    """Refuse, before anything is extracted, a data set too small for the training protocol.

    ``test_subjects`` subjects are held out for the final test; the others must make
    ``n_folds`` subject-independent outer folds, each of which leaves at least two subjects to
    train on (the nested evaluation cross-validates inside every outer fold again), and every
    training part the protocol fits models on (:func:`emoflow.metrics.protocol_training_parts`,
    the folds of ``seed``) must show every emotion.

    Raises
    ------
    InputError
        Naming ``source``, the subject count and the settings to change.
    """
    n_subjects = manifest["subject"].n_unique()
    if test_subjects >= n_subjects:
        raise InputError(
            source,
            f"{n_subjects} subjects cannot hold out train.test_subjects={test_subjects} for "
            "the final test and still train; lower train.test_subjects",
        )
    if n_subjects - test_subjects < n_folds:
        raise InputError(
            source,
            f"{n_subjects} subjects, {test_subjects} of them held out for the final test "
            f"(train.test_subjects), leave {n_subjects - test_subjects} for "
            f"train.n_folds={n_folds} subject-independent folds; lower train.n_folds or "
            "train.test_subjects",
        )
    n_development = n_subjects - test_subjects
    if n_development - -(-n_development // n_folds) < 2:
        raise InputError(
            source,
            f"{n_subjects} subjects, {test_subjects} of them held out for the final test, "
            f"leave {n_development} for the nested evaluation's train.n_folds={n_folds} outer "
            "folds, and an outer fold must leave at least 2 subjects to cross-validate its "
            "training part; lower train.n_folds or train.test_subjects, or add subjects",
        )
    from emoflow.metrics import protocol_training_parts

    emotions = manifest["emotion"].to_numpy().astype(str)
    for name, train in protocol_training_parts(
        manifest["subject"].to_numpy().astype(str),
        emotions,
        n_folds=n_folds,
        test_subjects=test_subjects,
        seed=seed,
    ):
        missing = sorted(set(emotions.tolist()) - set(emotions[train].tolist()))
        if missing:
            raise InputError(
                source,
                f"the training subjects of {name} show no video of {', '.join(missing)}, so "
                "its one-vs-rest model cannot be trained; lower train.n_folds or "
                "train.test_subjects, change train.seed, or add subjects who show it",
            )
