"""Rule attribute_models: improved Integrated Gradients of every emotion's model (Zarr)."""

from emoflow._logging import log_to_file
from emoflow.attribution import AttributionSettings, attribute_iteration

log_to_file(snakemake.log[0])
attribute_iteration(
    snakemake.input.features,
    snakemake.input.landmarks,
    snakemake.input.models,
    snakemake.output.store,
    settings=AttributionSettings.from_section(snakemake.params.settings),
    device=snakemake.params.device,
    iteration=snakemake.params.iteration,
    metrics_path=snakemake.input.metrics,
)
