"""The report as a reader meets it: ``snakemake --report`` of the default demo (what ``make
demo`` gives), opened in a real (headless) Chromium. The first item of the report's results is
the answer: for each emotion the landmarks kept, the top face regions with their share of
relevance, the nested estimate and the held-out test with their intervals (or why there is
none) and the data kept. Skipped where Debian's ``chromium`` and ``chromium-driver`` are not
installed (``.ci/run`` installs them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from browser import ENTER, Browser, browser_missing  # tests/browser.py

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing())),
]

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

# the view button of the first result row shown in the navigation bar
FIRST_ITEM = """
const rows = document.querySelectorAll("nav table tbody tr, table tbody tr");
for (const row of rows) {
  const view = row.querySelector("td:last-child a");
  if (view) return [row.innerText, view];
}
return null;
"""
MENU_ENTRY = """
for (const link of document.querySelectorAll("a")) {
  if (link.innerText.trim() === arguments[0]) return link;
}
return null;
"""
GLANCE_ROWS = """
const table = document.querySelector("table.glance");
if (!table) return null;
return Array.from(table.querySelectorAll("tbody tr, tfoot tr")).map(
  (row) => Array.from(row.cells).map((cell) => cell.innerText.trim()));
"""


@pytest.fixture(scope="module")
def report(default_demo: Path) -> Path:
    done = subprocess.run(
        [SNAKEMAKE, "--cores", "1", "--report", "report.html"],
        cwd=default_demo,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return default_demo / "report.html"


def _share(value: float) -> str:
    return f"{100 * value:.1f} %"


def _interval(entry: dict) -> str:
    low, high = entry["ci"]
    if low is None or high is None:
        return f"{entry['estimate']:.3f} (no interval)"
    return f"{entry['estimate']:.3f} [{low:.3f}, {high:.3f}]"


def _open_first_item(browser: Browser, report: Path) -> str:
    """Open the report, its first results category and that category's first item; returns
    the category's name (the browser is left inside the item's frame)."""
    browser.open(report.as_uri())
    categories = browser.wait_for(
        "return typeof categories === 'undefined' ? null : Object.keys(categories);",
        what="the report's categories",
    )
    first = sorted(categories, key=str.casefold)[0]  # the menu sorts them by name
    browser.click(browser.wait_for(MENU_ENTRY, first, what=f"the menu entry {first!r}"))
    label, view = browser.wait_for(FIRST_ITEM, what="the category's items")
    assert "results at a glance" in label
    browser.click(view)
    frame = browser.wait_for("return document.querySelector('iframe');", what="the item")
    browser.frame(frame)
    return first


def test_the_first_item_answers_for_every_emotion(report: Path, default_demo: Path) -> None:
    results = default_demo / "results"
    numbers = json.loads((results / "report" / "report.json").read_text())
    evidence = json.loads((results / "report" / "evidence.json").read_text())
    regions = pl.read_csv(results / "report" / "relevance_by_region.csv")
    summary = pl.read_parquet(results / "summary.parquet")
    emotions = list(numbers["emotions"])
    with Browser() as browser:
        category = _open_first_item(browser, report)
        assert category == "0. Results at a glance"
        rows = browser.wait_for(GLANCE_ROWS, what="the glance table")
        text = browser.run("return document.body.innerText;")
        shown = {row[0]: row for row in rows}
        assert list(shown)[: len(emotions)] == emotions
        for emotion in emotions:
            row = " | ".join(shown[emotion])
            selected = summary.filter((pl.col("emotion") == emotion) & pl.col("selected"))
            # landmarks kept: the deployed model's, and the count each outer fold chose
            assert f"{selected['n_landmarks'][0]} of 478" in row, row
            chosen = evidence["estimates"]["nested"][emotion]["ig_guided"]["n_landmarks"]
            assert "outer folds chose " + " / ".join(map(str, chosen)) in row, row
            # the top face regions of the deployed model, with their share of relevance
            top = (
                regions.filter((pl.col("emotion") == emotion) & (pl.col("model") == "selected"))
                .sort("relevance_share", descending=True)
                .head(3)
            )
            for region, share in zip(top["region"], top["relevance_share"], strict=True):
                assert f"{region.replace('_', ' ')} {_share(share)}" in row, (region, row)
            # the nested estimate with its interval and n; the held-out test beside it
            nested = evidence["estimates"]["nested"][emotion]["ig_guided"]
            assert nested["ci"][0] is not None  # 6 development subjects: an interval
            assert _interval(nested) in row, row
            assert f"n = {nested['n_subjects']} subjects, {nested['n_samples']} videos" in row
            test = evidence["estimates"]["test"][emotion]["ig_guided"]
            assert _interval(test) in row, row
            assert "too few subjects for an interval" in row  # 2 test subjects: said so
            # data kept
            data = numbers["at_a_glance"][emotion]["data"]
            assert f"{data['kept']} of {data['videos']} kept" in row, row
        combined = " | ".join(shown["combined (argmax over the emotions' models)"])
        assert _interval(evidence["estimates"]["nested"]["combined"]["ig_guided"]) in combined
        assert "Small test set" in text and "held out as the final test" in text


def test_searching_an_emotion_finds_its_items(report: Path) -> None:
    with Browser() as browser:
        browser.open(report.as_uri())
        search = browser.wait_for(
            "return document.querySelector('input[placeholder=\"Search...\"]');",
            what="the search box",
        )
        browser.type(search, "surprise" + ENTER)
        found = browser.wait_for(
            "const t = document.body.innerText;return t.includes('at a glance: surprise') && t;",
            what="the search results",
        )
        assert "relevance on the face and by region: surprise" in found
        assert "at a glance: happiness" not in found


def test_tables_sort_when_a_heading_is_clicked(report: Path) -> None:
    with Browser() as browser:
        _open_first_item(browser, report)
        before = browser.wait_for(GLANCE_ROWS, what="the glance table")
        heading = browser.element("table.glance thead th:nth-child(2)")  # landmarks kept
        browser.click(heading)
        after = browser.run(GLANCE_ROWS)
        kept = [int(row[1].split(" of ")[0]) for row in after[:-1]]  # the combined row stays
        assert kept == sorted(kept)
        assert after[-1] == before[-1] and sorted(after[:-1]) == sorted(before[:-1])
