"""Progress bars for long command-line work (tqdm): items (videos) done, and the current
item's frames, each with its rate and time estimate.

The bars are drawn only when their stream is a terminal, so logs of non-interactive runs
(Snakemake jobs, CI, redirected or piped output) stay free of them. While they are drawn,
console log lines are written above them (``tqdm.contrib.logging``) instead of through them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, TextIO


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):  # a closed or detached stream
        return False


def _size_options(stream: TextIO) -> dict[str, Any]:
    """tqdm's size options: follow the terminal's size, or 100 × 24 when the terminal does
    not tell it (a pseudo-terminal without a size, where tqdm would draw nothing)."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        size = os.terminal_size((0, 0))
    if size.columns > 0 and size.lines > 0:
        return {"dynamic_ncols": True}
    return {"ncols": 100, "nrows": 24}


class Progress:
    """Progress over ``total`` items, and over the frames of the item being worked on.

    With more than one item, a bar counts the items (``3/12 videos [00:40<02:10, …]``) and a
    second bar the current item's frames; with one item only the frame bar is drawn. Use as a
    context manager. :meth:`frames` has the signature of the ``progress`` callbacks of
    :meth:`emoflow.facemesh.tracker.FaceMeshTracker.track`, so it can be passed there directly.

    Parameters
    ----------
    total
        Items to process.
    label
        What is counted, e.g. ``"videos"`` (the unit is its singular).
    stream
        Where to draw (default ``sys.stderr`` at the time of the call).
    enabled
        ``None``: draw only when ``stream`` is a terminal; ``True``/``False`` force it.
    frame_bars
        Whether items have frames to count (``False``: only the item bar, e.g. emotions).
    min_interval_s
        Least time between two redraws of a bar.
    """

    def __init__(
        self,
        total: int,
        *,
        label: str = "videos",
        stream: TextIO | None = None,
        enabled: bool | None = None,
        frame_bars: bool = True,
        min_interval_s: float = 0.1,
    ) -> None:
        self.total = int(total)
        self.frame_bars = frame_bars
        self.min_interval_s = min_interval_s
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _is_terminal(self.stream) if enabled is None else bool(enabled)
        self.done = 0
        self.frame_count = 0
        self.current = ""
        self._items: Any = None
        self._frames: Any = None
        self._exit = contextlib.ExitStack()

    def __enter__(self) -> Progress:
        if self.enabled:
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm

            self._exit.enter_context(logging_redirect_tqdm())
            if self.total > 1 or not self.frame_bars:
                self._items = tqdm(
                    total=self.total,
                    desc=self.label,
                    unit=self.label.rstrip("s") or "item",
                    file=self.stream,
                    position=0,
                    mininterval=self.min_interval_s,
                    **_size_options(self.stream),
                )
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self, name: str, expected_frames: int | None = None) -> None:
        """Begin the item ``name`` (a new frame bar, of ``expected_frames`` when known)."""
        self.current = name
        self._close_frames()
        if not self.enabled:
            return
        from tqdm import tqdm

        if self._items is not None:
            self._items.set_postfix_str(name, refresh=True)
        if not self.frame_bars:
            return
        self._frames = tqdm(
            total=expected_frames,
            desc=name,
            unit="frame",
            file=self.stream,
            position=1 if self._items is not None else 0,
            leave=self._items is None,
            mininterval=self.min_interval_s,
            **_size_options(self.stream),
        )

    def frames(self, done: int, expected: int | None = None) -> None:
        """``done`` frames of the current item processed, of about ``expected``."""
        bar = self._frames
        if bar is None:
            return
        if expected is not None and bar.total != max(expected, done):
            bar.total = max(expected, done)
        bar.update(done - bar.n)

    def advance(self, items: int = 0, frames: int = 0) -> None:
        """Count ``items`` finished (which ends the current frame bar) and ``frames`` more."""
        self.done += items
        self.frame_count += frames
        if items:
            self._close_frames()
            if self._items is not None:
                self._items.update(items)

    def _close_frames(self) -> None:
        if self._frames is not None:
            self._frames.total = self._frames.n  # the frames there were
            self._frames.refresh()  # the final count and rate, however fast the item went
            self._frames.close()
            self._frames = None

    def close(self) -> None:
        """End the bars (the item bar stays on screen with its final count)."""
        self._close_frames()
        if self._items is not None:
            self._items.set_postfix_str("", refresh=False)
            self._items.close()
            self._items = None
        self._exit.close()


__all__ = ["Progress"]
