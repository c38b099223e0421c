"""Output paths never overwrite inputs: every command that writes files checks this first.

``emoflow explain clip.mp4 --video clip.mp4`` once replaced the input video with its annotated
copy. :func:`refuse_overwriting_inputs` compares each output with each input after resolving
both (a relative path, a symlink or a hard link to the same file all count as the same file)
and raises before anything is read or written, so the input stays byte-identical.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from emoflow.errors import InputError

__all__ = ["STDOUT", "check_writable", "is_stdout", "refuse_overwriting_inputs", "same_file"]

STDOUT = "-"
"""The output name that means standard output (a table written as CSV to the console)."""


def is_stdout(path: str | Path | None) -> bool:
    """Whether ``path`` is :data:`STDOUT` (``-``), not a file."""
    return path is not None and str(path) == STDOUT


def check_writable(path: str | Path) -> None:
    """Raise :class:`~emoflow.errors.InputError` naming ``path`` unless a file can be written
    there: it must not be a folder, and its nearest existing parent must be a folder this user
    can write in (tried with an empty temporary file; missing folders below it are created
    when the file is written).

    Checked before any work, so that a long command does not fail at its last step.
    :data:`STDOUT` can always be written.
    """
    if is_stdout(path):
        return
    target = Path(path).expanduser()
    if target.is_dir():
        raise InputError(path, "is a folder; give a file name (e.g. inside that folder)")
    parent = target.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(path, f"cannot be written: {parent} is a file, not a folder")
    try:  # the one sure test (permissions, read-only file systems, root's rights)
        handle, probe = tempfile.mkstemp(prefix=".emoflow-write-test-", dir=parent)
    except OSError as err:
        raise InputError(
            path, f"cannot be written: the folder {parent} is not writable ({err.strerror})"
        ) from err
    os.close(handle)
    os.unlink(probe)


def _resolved(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()


def same_file(first: str | Path, second: str | Path) -> bool:
    """Whether two paths name the same file or folder (after symlinks; hard links too)."""
    if _resolved(first) == _resolved(second):
        return True
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist yet: resolved paths were compared above
        return False


def _inside(path: str | Path, folder: str | Path) -> bool:
    return _resolved(path).is_relative_to(_resolved(folder))


def refuse_overwriting_inputs(
    outputs: Iterable[str | Path | None],
    inputs: Iterable[str | Path | None],
    *,
    folders: Iterable[str | Path] = (),
) -> None:
    """Raise :class:`~emoflow.errors.InputError` naming the first output that is an input.

    Parameters
    ----------
    outputs
        Files (or folders) the command will write; ``None`` entries are skipped.
    inputs
        Files (or folders) the command reads; ``None`` entries are skipped.
    folders
        Folders whose every file is input (a video given as a folder of frames): an output
        inside one would become one of its frames, so it is refused too.
    """
    sources = [Path(path) for path in inputs if path is not None]
    containers = [Path(folder) for folder in folders]
    for output in outputs:
        if output is None or is_stdout(output):  # standard output overwrites nothing
            continue
        for source in sources:
            if same_file(output, source):
                shown = "" if str(source) == str(output) else f" ({source})"
                raise InputError(
                    output,
                    f"is also an input{shown}: writing it would overwrite the input; "
                    "choose another output path",
                )
        for folder in containers:
            if _inside(output, folder):
                raise InputError(
                    output,
                    f"lies inside the input frame folder {folder}: it would become part of "
                    "the input; choose another output path",
                )
