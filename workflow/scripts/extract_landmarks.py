"""Rule extract_landmarks: one shard of the manifest's videos → a landmark table (Parquet)."""

from emoflow._logging import log_to_file
from emoflow.landmarks import extract_shard

log_to_file(snakemake.log[0])
options = dict(snakemake.params.options)
options.pop("n_shards")
extract_shard(
    snakemake.input.manifest,
    snakemake.output.table,
    shard=snakemake.params.shard,
    n_shards=snakemake.params.n_shards,
    **options,
)
