"""Small self-contained HTML pages for the report (Snakemake's report shows HTML inline).

Every value is escaped; the pages carry their own style sheet and load nothing.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from emoflow._atomic import atomic_path

STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; font-size: 14px;
       color: #222; margin: 12px 18px; line-height: 1.4; }
h1 { font-size: 20px; margin: 4px 0 10px; } h2 { font-size: 16px; margin: 20px 0 6px; }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { border: 1px solid #d0d0d0; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f0f3f7; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.hl td { background: #fff6d5; } td.bad { color: #b00020; font-weight: 600; }
td.nowrap { white-space: nowrap; }
td.ids { font-family: monospace; font-size: 12px; max-width: 60em; }
.warn { border-left: 4px solid #b00020; background: #fdecee; padding: 6px 10px; margin: 8px 0; }
.note { color: #555; font-size: 13px; } .facts td:first-child { font-weight: 600; }
.cards { display: flex; flex-wrap: wrap; gap: 0 28px; align-items: flex-start; }
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 3) -> str:
    """A cell's text: floats rounded, missing values as an en dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return "–" if not math.isfinite(value) else f"{value:.{digits}f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v, digits) for v in value)
    return str(value)


def setting(value: Any) -> str:
    """A configuration value as YAML would write it (``true``, ``null``, ``0.1``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(setting(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {setting(v)}" for k, v in value.items()) + "}"
    return str(value)


def percent(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.1f} %"


def table(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    highlight: Sequence[bool] | None = None,
    classes: Mapping[int, str] | None = None,
    cell_classes: Sequence[Mapping[int, str]] | None = None,
) -> str:
    """An HTML table; numbers right-aligned, ``highlight`` marks rows, ``classes`` columns."""
    out = ["<table><thead><tr>", *(f"<th>{esc(h)}</th>" for h in header), "</tr></thead><tbody>"]
    for r, row in enumerate(rows):
        mark = ' class="hl"' if highlight is not None and highlight[r] else ""
        out.append(f"<tr{mark}>")
        for c, value in enumerate(row):
            names = []
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                names.append("num")
            if classes and c in classes:
                names.append(classes[c])
            if cell_classes is not None and c in cell_classes[r]:
                names.append(cell_classes[r][c])
            attribute = f' class="{" ".join(names)}"' if names else ""
            out.append(f"<td{attribute}>{esc(fmt(value))}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def facts(pairs: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of labelled facts."""
    rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(fmt(v))}</td></tr>" for k, v in pairs)
    return f'<table class="facts">{rows}</table>'


def paragraph(text: str, css: str = "") -> str:
    attribute = f' class="{css}"' if css else ""
    return f"<p{attribute}>{esc(text)}</p>"


def warning(lines: Sequence[str], title: str) -> str:
    if not lines:
        return ""
    items = "".join(f"<li>{esc(line)}</li>" for line in lines)
    return f'<div class="warn"><b>{esc(title)}</b><ul>{items}</ul></div>'


def page(title: str, parts: Iterable[str]) -> str:
    body = "\n".join(part for part in parts if part)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{esc(title)}</h1>\n{body}\n</body></html>\n"
    )


def heading(text: str) -> str:
    return f"<h2>{esc(text)}</h2>"


def write_page(path: Path, title: str, parts: Iterable[str]) -> None:
    with atomic_path(path) as staged:
        staged.write_text(page(title, parts), encoding="utf-8")


__all__ = [
    "esc",
    "facts",
    "fmt",
    "heading",
    "page",
    "paragraph",
    "percent",
    "setting",
    "table",
    "warning",
]
