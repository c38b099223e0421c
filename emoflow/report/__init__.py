"""The report stage: data quality, validation against held-out test, cost, relevance on the face.

- :mod:`~emoflow.report.inputs`: the report's inputs, read once
  (:class:`~emoflow.report.inputs.ReportInputs`);
- :mod:`~emoflow.report.tables`: the numbers of ``report.json``;
- :mod:`~emoflow.report.data`: the data and quality section (videos kept, dropped, why);
- :mod:`~emoflow.report.regions`: relevance per face region (``relevance_by_region``);
- :mod:`~emoflow.report.glance`: the results at a glance, the report's first item;
- :mod:`~emoflow.report.outcomes`: validation against held-out test;
- :mod:`~emoflow.report.evidence`: the nested evaluation's estimates, differences and verdicts
  (``evidence.html``, ``accuracy_curves.png``);
- :mod:`~emoflow.report.figures` (with :mod:`~emoflow.report.faces` and
  :mod:`~emoflow.report.confusion`): the figures;
- :mod:`~emoflow.report.pages` (with :mod:`~emoflow.report.html`): the HTML items;
- :mod:`~emoflow.report.settings`: the ``report`` config section
  (:class:`~emoflow.report.settings.ReportSettings`);
- :mod:`~emoflow.report.stage`: :func:`make_report` and :func:`draw_face_figures`, what the
  workflow's rules call.

``summary.parquet`` is read through :mod:`emoflow.storage.summary`, which ``emoflow predict``
shares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emoflow._lazy import lazy_names

if TYPE_CHECKING:
    from emoflow.report._drawing import FIGURES, RELEVANCE_FIGURE
    from emoflow.report.evidence import report_evidence
    from emoflow.report.glance import GLANCE_EMOTION_PAGE
    from emoflow.report.regions import REGION_SCHEMA
    from emoflow.report.settings import ReportSettings
    from emoflow.report.stage import draw_face_figures, make_report, write_run_settings

# Each name is imported from its module when first used (emoflow._lazy): a job that writes
# the run's settings, or draws the faces, imports only the modules it needs.
_LAZY = {
    "FIGURES": "_drawing",
    "RELEVANCE_FIGURE": "_drawing",
    "report_evidence": "evidence",
    "GLANCE_EMOTION_PAGE": "glance",
    "REGION_SCHEMA": "regions",
    "ReportSettings": "settings",
    "draw_face_figures": "stage",
    "make_report": "stage",
    "write_run_settings": "stage",
}

__all__ = [
    "FIGURES",
    "GLANCE_EMOTION_PAGE",
    "REGION_SCHEMA",
    "RELEVANCE_FIGURE",
    "ReportSettings",
    "draw_face_figures",
    "make_report",
    "report_evidence",
    "write_run_settings",
]

__getattr__ = lazy_names(__name__, _LAZY)
