"""Rule start_chains(_outer): iteration 0 of every emotion's chain of one split (deployed, or
an outer fold of the nested evaluation): the start set, the randomized deep network
cross-validated by subject, and its Integrated Gradients (Zarr)."""

from emoflow._logging import start_job
from emoflow.chains import STEP_OUTPUTS, start_chains

start_job(snakemake.log[0])
start_chains(
    snakemake.input.features,
    {
        emotion: {name: snakemake.output[name][e] for name in STEP_OUTPUTS}
        for e, emotion in enumerate(snakemake.params.emotions)
    },
    start=snakemake.params.start,
    train=snakemake.params.train,
    attribution=snakemake.params.attribution,
    runtime=snakemake.resources,
    threads=snakemake.resources.torch_threads,
    outer_fold=snakemake.params.fold,
)
