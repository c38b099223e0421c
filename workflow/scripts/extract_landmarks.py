"""Rule extract_landmarks: one planned shard of the data set's videos → a landmark table."""

from emoflow._logging import start_job
from emoflow.landmarks import extract_planned

start_job(snakemake.log[0])
extract_planned(
    snakemake.params.videos,
    snakemake.output.table,
    settings=snakemake.params.settings,
)
