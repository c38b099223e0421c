"""What a finished run publishes for ``emoflow predict`` and ``emoflow explain``, and the
checks that readers get one whole run.

A workflow run rewrites the results folder file by file; a ``predict`` that read the summary
and the model files while that happened could mix emotions' models of two runs, or take a
model of another iteration than the summary selected, and exit 0. So the workflow's last
step writes ``results/published.json`` (:func:`publish_run`), atomically replaced: each
emotion's selected iteration and the SHA-256 of every file the readers load (the model files
of every iteration, the summary) and the integrity record of every
store explain reads (:mod:`emoflow._integrity`). Readers take the selection from it and check
every file against it as they read it (:class:`PublishedRun`): a file that differs was
rewritten by a run that has not published yet, and the reader stops with
:class:`ResultsChangedError` ("results are being rewritten") instead of mixing runs. A model
file is read once, checked and loaded from the same bytes, so it cannot change between.

Results folders without the record (written by an earlier emoflow, or a first run still going)
are read as before, unless a run holds the folder's lock (:mod:`emoflow.runlock`): then the
reader says the results are being written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emoflow._atomic import write_json
from emoflow._integrity import check_store
from emoflow.errors import InputError
from emoflow.layout import ResultsLayout
from emoflow.runlock import ResultsLock

PUBLISHED_FORMAT = 1
RERUN = "rerun the workflow to finish it (snakemake --cores N), then try again"


class ResultsChangedError(InputError):
    """A file of a results folder differs from what its last finished run published."""


def _read_bytes(path: Path) -> bytes:
    """A file's bytes (the one place readers of a published run read files)."""
    return path.read_bytes()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _relative(path: str | Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError as err:
        raise InputError(path, f"is not inside the results folder {root}") from err


def publish_run(
    out_path: str | Path,
    *,
    selected: Mapping[str, int],
    summary: str | Path,
    models: Sequence[str | Path],
    stores: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """Write ``published.json``: the selected iterations and every file's digest.

    Parameters
    ----------
    out_path
        The record, in the results folder (:attr:`ResultsLayout.published`); every other
        path must lie in the same folder.
    selected
        Each emotion's selected iteration, as the summary says
        (:func:`emoflow.storage.summary.selected_iterations`).
    summary
        The run's ``summary.parquet``.
    models
        Every model file of the run (each iteration's, for ``--iteration N``).
    stores
        Zarr stores explain reads (the feature store, the attribution stores): their
        integrity records' digests.
    """
    root = Path(out_path).parent
    files: dict[str, dict[str, str]] = {}
    for path in [summary, *models]:
        files[_relative(path, root)] = {"sha256": sha256_bytes(Path(path).read_bytes())}
    for store in stores:
        digest = check_store(store, "delete it and rerun the workflow")
        files[_relative(store, root)] = {"store_sha256": digest or ""}
    record = {
        "format": PUBLISHED_FORMAT,
        "selected": {str(emotion): int(i) for emotion, i in selected.items()},
        "files": dict(sorted(files.items())),
    }
    write_json(out_path, record)
    return record


def busy_note(results: str | Path) -> str:
    """``" (a run is writing it: …)"`` when a live run holds the folder's lock, else ``""``."""
    lock = ResultsLock(results)
    holder = lock.live_holder()
    return f" (a run is writing it: {holder.describe()})" if holder is not None else ""


@dataclass
class PublishedRun:
    """The record of a results folder's last finished run (:func:`read_published`)."""

    root: Path
    selected: dict[str, int]
    files: dict[str, dict[str, str]] = field(default_factory=dict)

    def _changed(self, path: Path, problem: str) -> ResultsChangedError:
        return ResultsChangedError(
            path,
            f"{problem}: the results are being rewritten (run in progress?){busy_note(self.root)}"
            f"; wait for the run to finish, or {RERUN}",
        )

    def entry(self, path: str | Path) -> dict[str, str]:
        """The record of one file; a file the run did not publish is refused."""
        name = _relative(path, self.root)
        if name not in self.files:
            raise self._changed(Path(path), f"not a file of the run published in {self.root}")
        return self.files[name]

    def read(self, path: str | Path) -> bytes:
        """A published file's bytes, checked against the record.

        Raises
        ------
        ResultsChangedError
            The file is missing or differs from what the run published.
        """
        expected = self.entry(path).get("sha256")
        try:
            data = _read_bytes(Path(path))
        except FileNotFoundError as err:
            raise self._changed(Path(path), "missing") from err
        if sha256_bytes(data) != expected:
            raise self._changed(Path(path), "differs from what the last finished run published")
        return data

    def check_store(self, path: str | Path, remedy: str) -> None:
        """Check a store against the record (its integrity record's digest).

        Raises
        ------
        ResultsChangedError
            The store is missing or is another run's.
        """
        expected = self.entry(path).get("store_sha256")
        if not Path(path).is_dir():
            raise self._changed(Path(path), "missing")
        if (check_store(path, remedy) or "") != expected:
            raise self._changed(Path(path), "differs from what the last finished run published")


def read_published(results: str | Path) -> PublishedRun | None:
    """The published record of a results folder; ``None`` when it has none.

    Raises
    ------
    InputError
        The record is damaged or of another format.
    """
    layout = ResultsLayout(Path(results))
    try:
        raw = _read_bytes(layout.published)
    except FileNotFoundError:
        return None
    import json

    try:
        record = json.loads(raw)
        if record.get("format") != PUBLISHED_FORMAT:
            raise ValueError(f"format {record.get('format')!r}")
        selected = {str(e): int(i) for e, i in dict(record["selected"]).items()}
        files = {str(name): dict(entry) for name, entry in dict(record["files"]).items()}
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise InputError(
            layout.published, f"not a readable published-run record ({err}); {RERUN}"
        ) from err
    return PublishedRun(root=layout.root, selected=selected, files=files)


def published_for(path: str | Path, depth: int = 3) -> PublishedRun | None:
    """The published record of the results folder a file lies in (searched up to ``depth``
    folders above it), ``None`` when there is none."""
    for folder in Path(path).absolute().parents[:depth]:
        if ResultsLayout(folder).published.is_file():
            return read_published(folder)
    return None


def record_covering(
    path: str | Path, known: dict[Path, PublishedRun | None], depth: int = 3
) -> PublishedRun | None:
    """The published record that covers ``path``: one of ``known`` whose folder holds it, else
    the record of its own results folder (:func:`published_for`), remembered in ``known`` so
    that the files of one folder are all checked against one reading of its record."""
    resolved = Path(path).resolve()
    for root, record in known.items():
        if record is not None and resolved.is_relative_to(root):
            return record
    record = published_for(path, depth=depth)
    known[record.root.resolve() if record is not None else resolved.parent] = record
    return record


def check_not_busy(results: str | Path) -> None:
    """Refuse to read an unpublished results folder while a run writes it.

    Raises
    ------
    ResultsChangedError
        A live run holds the folder's lock.
    """
    note = busy_note(results)
    if note:
        raise ResultsChangedError(
            results,
            f"the results are being rewritten{note}, and no finished run of this emoflow "
            "published them yet; wait for the run to finish",
        )


__all__ = [
    "PublishedRun",
    "ResultsChangedError",
    "busy_note",
    "check_not_busy",
    "publish_run",
    "published_for",
    "read_published",
    "record_covering",
]
