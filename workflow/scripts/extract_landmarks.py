"""Rule extract_landmarks: one planned shard of the manifest's videos → a landmark table."""

from emoflow._logging import log_to_file
from emoflow.landmarks import extract_listed

log_to_file(snakemake.log[0])
extract_listed(
    snakemake.input.manifest,
    snakemake.output.table,
    snakemake.params.video_ids,
    settings=snakemake.params.settings,
)
