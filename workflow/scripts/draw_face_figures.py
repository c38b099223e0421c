"""Rule draw_face_figures: each emotion's relevance on the face, and the landmarks each selected
model kept."""

from pathlib import Path

from emoflow._logging import start_job
from emoflow.report import draw_face_figures

start_job(snakemake.log[0])
draw_face_figures(
    snakemake.input.summary,
    snakemake.input.metrics,
    snakemake.input.attributions,
    snakemake.input.landmarks,
    Path(snakemake.output.selected).parent,
    ground_truth_path=snakemake.input.truth or None,
    top_k=snakemake.params.top_k,
)
