"""Small self-contained HTML pages for the report (Snakemake's report shows HTML inline).

Every value is escaped; the pages carry their own style sheet and load nothing. A page with
a sortable table (``table(..., sortable=True)``) carries a small script of its own
(:data:`SORT_SCRIPT`): a click on a column's heading sorts the rows by it, numbers as numbers.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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
.sub { display: block; color: #555; font-size: 12px; white-space: normal; }
.sortable th { cursor: pointer; user-select: none; }
.sortable th::after { content: " \\2195"; color: #999; font-size: 11px; }
.sortable th[aria-sort="ascending"]::after { content: " \\25B2"; color: #222; }
.sortable th[aria-sort="descending"]::after { content: " \\25BC"; color: #222; }
tfoot td { border-top: 2px solid #888; background: #f7f7f7; }
table.glance td:first-child { font-weight: 600; }
table.glance td:last-child { white-space: nowrap; }
"""

SORT_SCRIPT = r"""
document.querySelectorAll("div.sortable > table").forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  function key(row, column) {
    var cell = row.cells[column];
    if (!cell) return [1, ""];
    var text = cell.getAttribute("data-sort");
    if (text === null) text = cell.textContent;
    var number = parseFloat(text.replace(/\u2212/g, "-").replace(/[,\s%]/g, ""));
    return isNaN(number) ? [1, text.trim()] : [0, number];
  }
  Array.prototype.forEach.call(heads, function (head, column) {
    head.title = "sort by this column";
    head.addEventListener("click", function () {
      var ascending = head.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      head.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a, column), y = key(b, column);
        var order = x[0] - y[0] ||
          (x[0] ? x[1].localeCompare(y[1], undefined, {numeric: true}) : x[1] - y[1]);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""
"""Sorts a table inside a ``div.sortable`` by the clicked column (a cell's ``data-sort`` when it
has one, else its text; numbers as numbers, before text); rows of a ``tfoot`` stay where they
are."""


@dataclass(frozen=True)
class Cell:
    """A table cell with more than one value: ``text`` (formatted by :func:`fmt`), a smaller
    ``note`` under it, the value a sortable table sorts by (``sort``) and CSS classes."""

    text: Any
    note: str = ""
    sort: Any = None
    css: str = ""

    def html(self, names: Sequence[str] = ()) -> str:
        classes = " ".join([*names, *([self.css] if self.css else [])])
        attributes = f' class="{classes}"' if classes else ""
        if self.sort is not None:
            attributes += f' data-sort="{esc(fmt(self.sort, 6))}"'
        note = f'<span class="sub">{esc(self.note)}</span>' if self.note else ""
        return f"<td{attributes}>{esc(fmt(self.text))}{note}</td>"


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
    sortable: bool = False,
    footer: Sequence[Sequence[Any]] = (),
    css: str = "",
) -> str:
    """An HTML table; numbers right-aligned, ``highlight`` marks rows, ``classes`` columns;
    a cell may be a :class:`Cell`. ``sortable``: a click on a heading sorts the rows
    (:data:`SORT_SCRIPT`); ``footer`` rows stay below them."""
    opening = f'<table class="{css}">' if css else "<table>"
    if sortable:  # the table itself stays a plain <table>: the marker is on its container
        opening = '<div class="sortable">' + opening
    out = [opening, "<thead><tr>", *(f"<th>{esc(h)}</th>" for h in header), "</tr></thead>"]
    out.append("<tbody>")
    for r, row in enumerate(rows):
        mark = ' class="hl"' if highlight is not None and highlight[r] else ""
        out.append(f"<tr{mark}>{_cells(row, r, classes, cell_classes)}</tr>")
    out.append("</tbody>")
    if footer:
        out.append("<tfoot>")
        out += [f"<tr>{_cells(row, -1, classes, None)}</tr>" for row in footer]
        out.append("</tfoot>")
    out.append("</table></div>" if sortable else "</table>")
    return "".join(out)


def _cells(
    row: Sequence[Any],
    r: int,
    classes: Mapping[int, str] | None,
    cell_classes: Sequence[Mapping[int, str]] | None,
) -> str:
    out = []
    for c, value in enumerate(row):
        names = []
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            names.append("num")
        if classes and c in classes:
            names.append(classes[c])
        if cell_classes is not None and c in cell_classes[r]:
            names.append(cell_classes[r][c])
        if isinstance(value, Cell):
            out.append(value.html(names))
            continue
        attribute = f' class="{" ".join(names)}"' if names else ""
        out.append(f"<td{attribute}>{esc(fmt(value))}</td>")
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
    sortable = '<div class="sortable">' in body
    script = f"<script>{SORT_SCRIPT}</script>" if sortable else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{esc(title)}</h1>\n{body}\n{script}</body></html>\n"
    )


def heading(text: str) -> str:
    return f"<h2>{esc(text)}</h2>"


def write_page(path: Path, title: str, parts: Iterable[str]) -> None:
    with atomic_path(path) as staged:
        staged.write_text(page(title, parts), encoding="utf-8")


__all__ = [
    "SORT_SCRIPT",
    "Cell",
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
