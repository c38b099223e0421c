"""Rule build_manifest: the data set's labels → the manifest (Parquet)."""

from emoflow._logging import log_to_file
from emoflow.manifest import build_dataset_manifest

log_to_file(snakemake.log[0])
build_dataset_manifest(snakemake.params.dataset, snakemake.input.labels, snakemake.output.manifest)
