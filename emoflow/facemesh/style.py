"""How relevance on the face is coloured: one colour map for the report and ``emoflow explain``.

Kept here, beside the mesh both draw on, so the report's faces and ``explain``'s frames read the
same way (pale: little relevance, dark red: the most).
"""

RELEVANCE_CMAP = "YlOrRd"
"""Matplotlib colour map of landmark relevance (least relevant → pale yellow, most → dark red)."""

__all__ = ["RELEVANCE_CMAP"]
