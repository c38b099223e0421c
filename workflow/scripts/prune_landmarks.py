"""Rule prune_landmarks: drop each emotion's least relevant landmarks for the next iteration."""

from emoflow._logging import start_job
from emoflow.pruning import PruneSettings, prune_iteration

start_job(snakemake.log[0])
prune_iteration(
    snakemake.input.attributions,
    snakemake.input.landmarks,
    snakemake.output.landmarks,
    settings=PruneSettings.from_section(snakemake.params.settings),
    iteration=snakemake.params.iteration,
    metrics_paths=snakemake.input.metrics,
)
