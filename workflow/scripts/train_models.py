"""Rule train_models: one randomized deep network per emotion, cross-validated by subject."""

from emoflow._logging import log_to_file
from emoflow.training import train_iteration

log_to_file(snakemake.log[0])
train_iteration(
    snakemake.input.features,
    snakemake.input.landmarks,
    snakemake.output.models,
    snakemake.output.metrics,
    snakemake.output.scores,
    network=snakemake.params.network,
    n_folds=snakemake.params.n_folds,
    seed=snakemake.params.seed,
    device=snakemake.params.device,
    iteration=snakemake.params.iteration,
    backprop=snakemake.params.backprop,
    selection=snakemake.params.selection,
    calibration=snakemake.params.calibration,
    test_subjects=snakemake.params.test_subjects,
)
