"""Rule prune_chain(_outer): iterations 1 … N of the chains of one split (every emotion's, one
after another; with ``prune.chain_jobs: emotion`` one emotion's): prune by the previous
iteration's relevance, train, attribute, repeat."""

from emoflow._logging import start_job
from emoflow.chains import STEP_OUTPUTS, chain_files, run_chains

start_job(snakemake.log[0])
run_chains(
    snakemake.input.features,
    chain_files(
        snakemake.params.emotions,
        {name: snakemake.input[f"start_{name}"] for name in STEP_OUTPUTS},
        {name: snakemake.output[name] for name in STEP_OUTPUTS},
    ),
    prune=snakemake.params.prune,
    train=snakemake.params.train,
    attribution=snakemake.params.attribution,
    runtime=snakemake.resources,
    threads=snakemake.resources.torch_threads,
    outer_fold=snakemake.params.fold,
)
