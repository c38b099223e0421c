"""Rule start_landmark_set: iteration 0 of an emotion's chain keeps every landmark."""

from emoflow._logging import log_to_file
from emoflow.pruning import initial_landmark_set

log_to_file(snakemake.log[0])
initial_landmark_set(
    snakemake.input.features,
    snakemake.output.landmarks,
    landmarks=snakemake.params.start,
    emotions=[snakemake.wildcards.emotion],
)
