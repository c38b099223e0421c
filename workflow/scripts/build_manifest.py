"""Rule build_manifest: the data set's labels → the manifest (Parquet)."""

from emoflow._logging import start_job
from emoflow.manifest import build_dataset_manifest

start_job(snakemake.log[0])
build_dataset_manifest(snakemake.params.dataset, snakemake.input.labels, snakemake.output.manifest)
