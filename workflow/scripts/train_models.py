"""Rule train_models: one step of an emotion's chain: its landmark set (the start set, or
pruned by the previous iteration's relevance), its randomized deep network cross-validated by
subject, and the network's Integrated Gradients (Zarr)."""

from emoflow._logging import start_job
from emoflow.chains import PREVIOUS_OUTPUTS, chain_step

start_job(snakemake.log[0])
chain_step(
    snakemake.input.features,
    snakemake.wildcards.emotion,
    iteration=snakemake.params.iteration,
    landmark_set_path=snakemake.output.landmarks,
    model_path=snakemake.output.model,
    metrics_path=snakemake.output.metrics,
    scores_path=snakemake.output.scores,
    attributions_path=snakemake.output.attributions,
    start=snakemake.params.start,
    prune=snakemake.params.prune,
    previous={
        name: snakemake.input.get(f"previous_{name}") for name in ("landmarks", *PREVIOUS_OUTPUTS)
    },
    earlier_metrics=list(snakemake.input.get("earlier_metrics", [])),
    train=snakemake.params.train,
    attribution=snakemake.params.attribution,
    runtime=snakemake.resources,
    threads=snakemake.resources.torch_threads,
)
