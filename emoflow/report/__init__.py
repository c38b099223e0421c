"""The report stage: data quality, validation against held-out test, cost, relevance on the face.

- :mod:`~emoflow.report.inputs`: the report's inputs, read once (:class:`ReportInputs`);
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
- :mod:`~emoflow.report.stage`: :func:`make_report` and :func:`draw_face_figures`, what the
  workflow's rules call.

``summary.parquet`` is read through :mod:`emoflow.summary` (``read_summary`` is re-exported
here), which ``emoflow predict`` shares.
"""

from emoflow.report._drawing import FIGURES, RELEVANCE_FIGURE
from emoflow.report.confusion import plot_confusion_matrices, plot_selected_confusions
from emoflow.report.data import DataQuality, load_data_quality
from emoflow.report.evidence import report_evidence, write_evidence_page
from emoflow.report.faces import plot_relevance_on_face, plot_selected_landmarks
from emoflow.report.figures import plot_accuracy_vs_landmarks, plot_cost_vs_landmarks
from emoflow.report.glance import GLANCE_EMOTION_PAGE, GLANCE_PAGE, write_glance_pages
from emoflow.report.inputs import ReportInputs, load_report_inputs, read_ground_truth
from emoflow.report.pages import PAGES
from emoflow.report.regions import (
    REGION_CSV,
    REGION_SCHEMA,
    REGION_TABLE,
    read_region_table,
    region_relevance,
)
from emoflow.report.stage import (
    FACE_FIGURES,
    REPORT_JSON,
    RUN_CONFIG,
    SUMMARY_TABLE,
    draw_face_figures,
    make_report,
    read_run_settings,
    write_run_settings,
)
from emoflow.report.tables import ground_truth_precision, report_numbers, top_landmarks
from emoflow.summary import SUMMARY_COLUMNS, read_summary, selected_iterations

__all__ = [
    "FACE_FIGURES",
    "FIGURES",
    "GLANCE_EMOTION_PAGE",
    "GLANCE_PAGE",
    "PAGES",
    "REGION_CSV",
    "REGION_SCHEMA",
    "REGION_TABLE",
    "RELEVANCE_FIGURE",
    "REPORT_JSON",
    "RUN_CONFIG",
    "SUMMARY_COLUMNS",
    "SUMMARY_TABLE",
    "DataQuality",
    "ReportInputs",
    "draw_face_figures",
    "ground_truth_precision",
    "load_data_quality",
    "load_report_inputs",
    "make_report",
    "plot_accuracy_vs_landmarks",
    "plot_confusion_matrices",
    "plot_cost_vs_landmarks",
    "plot_relevance_on_face",
    "plot_selected_confusions",
    "plot_selected_landmarks",
    "read_ground_truth",
    "read_region_table",
    "read_run_settings",
    "read_summary",
    "region_relevance",
    "report_evidence",
    "report_numbers",
    "selected_iterations",
    "top_landmarks",
    "write_evidence_page",
    "write_glance_pages",
    "write_run_settings",
]
