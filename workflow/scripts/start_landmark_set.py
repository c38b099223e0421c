"""Rule start_landmark_set: iteration 0 of an emotion's chain keeps every landmark."""

from emoflow._logging import start_job
from emoflow.pruning import initial_landmark_set

start_job(snakemake.log[0])
initial_landmark_set(
    snakemake.input.features,
    snakemake.output.landmarks,
    landmarks=snakemake.params.start,
    emotions=[snakemake.wildcards.emotion],
)
