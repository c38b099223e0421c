"""Rule gather_iteration: every emotion of one iteration → the iteration's metrics (with the
calibrated combined prediction), scores and landmark sets."""

from emoflow._logging import start_job
from emoflow.training import gather_iteration

start_job(snakemake.log[0])
gather_iteration(
    snakemake.input.metrics,
    snakemake.input.scores,
    snakemake.output.metrics,
    snakemake.output.scores,
    landmark_set_paths=snakemake.input.landmarks,
    landmark_sets_path=snakemake.output.landmarks,
)
