"""A small progress bar for long command-line work: videos done, frames, speed.

It draws on one terminal line (carriage return) only when its stream is a terminal, so logs
of non-interactive runs (Snakemake jobs, CI, redirected output) stay free of it.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Progress over ``total`` items (videos), with frames counted as they are reported.

    Parameters
    ----------
    total
        Items to process.
    label
        What is counted, e.g. ``"videos"``.
    stream
        Where to draw (default ``sys.stderr``).
    enabled
        ``None``: draw only when ``stream`` is a terminal; ``True``/``False`` force it.
    min_interval_s
        Least time between two redraws.
    """

    def __init__(
        self,
        total: int,
        *,
        label: str = "videos",
        stream: TextIO | None = None,
        enabled: bool | None = None,
        min_interval_s: float = 0.1,
    ) -> None:
        self.total = int(total)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.min_interval_s = min_interval_s
        self.done = 0
        self.frames = 0
        self.current = ""
        self._started = time.perf_counter()
        self._last_draw = -float("inf")
        self._width = 0

    def __enter__(self) -> Progress:
        self.draw(force=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self, name: str) -> None:
        """Show ``name`` as the item being worked on."""
        self.current = name
        self.draw()

    def advance(self, items: int = 0, frames: int = 0) -> None:
        """Count ``items`` finished and ``frames`` processed."""
        self.done += items
        self.frames += frames
        self.draw(force=items > 0)

    def line(self) -> str:
        """The text of the bar."""
        elapsed = time.perf_counter() - self._started
        share = self.done / self.total if self.total else 1.0
        filled = round(20 * share)
        rate = self.frames / elapsed if elapsed > 0 else 0.0
        text = (
            f"[{'#' * filled}{'.' * (20 - filled)}] {self.done}/{self.total} {self.label}, "
            f"{self.frames} frames, {rate:.0f} frames/s, {elapsed:.0f} s"
        )
        if self.current and self.done < self.total:
            text += f" — {self.current}"
        return text

    def draw(self, *, force: bool = False) -> None:
        """Redraw the bar (at most every ``min_interval_s`` unless ``force``)."""
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last_draw < self.min_interval_s:
            return
        self._last_draw = now
        text = self.line()
        padding = " " * max(0, self._width - len(text))
        self._width = len(text)
        self.stream.write(f"\r{text}{padding}")
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line."""
        if not self.enabled:
            return
        self.current = ""
        self.draw(force=True)
        self.stream.write("\n")
        self.stream.flush()
