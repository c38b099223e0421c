"""Rule train_models: one emotion's randomized deep network of one iteration, cross-validated
by subject."""

from emoflow._logging import log_to_file
from emoflow.training import train_emotion

log_to_file(snakemake.log[0])
train_emotion(
    snakemake.input.features,
    snakemake.input.landmarks,
    snakemake.wildcards.emotion,
    snakemake.output.model,
    snakemake.output.metrics,
    snakemake.output.scores,
    train=snakemake.params.train,
    iteration=snakemake.params.iteration,
    threads=snakemake.threads,
)
