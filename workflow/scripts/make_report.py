"""Rule make_report: data quality, validation vs held-out test, cost and relevance figures."""

from pathlib import Path

from emoflow._logging import start_job
from emoflow.report import make_report

start_job(snakemake.log[0])
make_report(
    snakemake.input.summary,
    snakemake.input.metrics,
    snakemake.input.attributions,
    snakemake.input.landmarks,
    Path(snakemake.output.numbers).parent,
    ground_truth_path=snakemake.input.truth or None,
    top_k=snakemake.params.top_k,
    settings_path=snakemake.input.settings,
    scores_paths=snakemake.input.scores,
    manifest_path=snakemake.input.manifest,
    features_path=snakemake.input.features,
    landmark_paths=list(snakemake.input.shards),
    faces=False,  # drawn by the rule draw_face_figures
    estimates_path=snakemake.input.estimates,
    differences_path=snakemake.input.differences,
)
