"""Rule build_features: landmark tables → the feature store (Zarr)."""

from emoflow._logging import log_to_file
from emoflow.features import FeatureSettings, build_features

log_to_file(snakemake.log[0])
build_features(
    snakemake.input.manifest,
    snakemake.input.tables,
    snakemake.output.store,
    FeatureSettings.from_section(snakemake.params.settings),
)
