"""Rule train_models: one emotion's randomized deep network of one iteration, cross-validated
by subject, and its improved Integrated Gradients (Zarr)."""

from emoflow._logging import start_job
from emoflow.chains import PREVIOUS_OUTPUTS, train_and_attribute

start_job(snakemake.log[0])
train_and_attribute(
    snakemake.input.features,
    snakemake.input.landmarks,
    snakemake.wildcards.emotion,
    model_path=snakemake.output.model,
    metrics_path=snakemake.output.metrics,
    scores_path=snakemake.output.scores,
    attributions_path=snakemake.output.attributions,
    train=snakemake.params.train,
    attribution=snakemake.params.attribution,
    runtime=snakemake.resources,
    iteration=snakemake.params.iteration,
    threads=snakemake.resources.torch_threads,
    previous={name: snakemake.input.get(f"previous_{name}") for name in PREVIOUS_OUTPUTS},
)
