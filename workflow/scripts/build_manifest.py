"""Rule build_manifest: the data set's labels → results/manifest.parquet."""

from emoflow._logging import log_to_file
from emoflow.manifest import build_manifest

log_to_file(snakemake.log[0])
build_manifest(
    snakemake.params.adapter,
    snakemake.input.labels,
    snakemake.output.manifest,
    emotions=snakemake.params.emotions,
    options=dict(snakemake.params.options),
)
