"""Signed numbers in the report's statements and tables."""

from __future__ import annotations


def signed(value: float) -> str:
    """``+0.033``, ``-0.004``; a zero is ``+0.000``, never ``-0.000``."""
    return f"{round(value, 3) + 0.0:+.3f}"
