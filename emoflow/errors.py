"""The project's own error types: every user-facing failure names the file or key at fault."""

from __future__ import annotations

from pathlib import Path


class EmoflowError(Exception):
    """Base class of every error emoflow raises on purpose."""


class InputError(EmoflowError):
    """An input file is missing, unreadable or does not hold what it should.

    Parameters
    ----------
    path
        The file (or folder) at fault.
    problem
        What is wrong, in words a user can act on.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # rebuilt from both arguments (the default passes the message alone), so the error
        # crosses a process boundary whole (emoflow._forked)
        return type(self), (self.path, self.problem)


class NoFaceError(InputError):
    """A video in which no frame shows a face."""


class ConfigError(EmoflowError):
    """A configuration value breaks the schema or contradicts another value."""


class DataError(EmoflowError):
    """Data that cannot be used as asked (e.g. an emotion without positive samples)."""


class MissingDependencyError(EmoflowError):
    """An optional dependency a command needs is not installed; the message gives the
    command that installs it."""
