"""Rule attribute_models: improved Integrated Gradients of one emotion's model (Zarr)."""

from emoflow._logging import log_to_file
from emoflow.attribution import attribute_emotion

log_to_file(snakemake.log[0])
attribute_emotion(
    snakemake.input.features,
    snakemake.input.landmarks,
    snakemake.input.model,
    snakemake.output.store,
    emotion=snakemake.wildcards.emotion,
    settings=snakemake.params.settings,
    runtime=snakemake.resources,
    device=snakemake.params.device,
    iteration=snakemake.params.iteration,
    metrics_path=snakemake.input.metrics,
    threads=snakemake.threads,
)
