"""Rule prune_chain(_outer): iterations 1 … N of one emotion's chain of one split: prune by
the previous iteration's relevance, train, attribute, repeat."""

from emoflow._logging import start_job
from emoflow.chains import STEP_OUTPUTS, run_chain

start_job(snakemake.log[0])
start = {name: snakemake.input[f"start_{name}"] for name in STEP_OUTPUTS}
later = [
    {name: snakemake.output[name][i] for name in STEP_OUTPUTS}
    for i in range(len(snakemake.output.model))
]
run_chain(
    snakemake.input.features,
    snakemake.wildcards.emotion,
    [start, *later],
    prune=snakemake.params.prune,
    train=snakemake.params.train,
    attribution=snakemake.params.attribution,
    runtime=snakemake.resources,
    threads=snakemake.resources.torch_threads,
    outer_fold=snakemake.params.fold,
)
