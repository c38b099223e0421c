"""Rule build_features: landmark tables → the feature store (Zarr)."""

from emoflow._logging import start_job
from emoflow.features import FeatureSettings, build_features

start_job(snakemake.log[0])
build_features(
    snakemake.input.manifest,
    snakemake.input.tables,
    snakemake.output.store,
    FeatureSettings.from_section(snakemake.params.settings),
)
