"""Rule start_chains: iteration 0 of every emotion's chain of every split (with
``prune.chain_jobs: emotion``, of one split: deployed, or an outer fold of the nested
evaluation): the start set, the randomized deep network cross-validated by subject, and its
Integrated Gradients (Zarr)."""

from emoflow._logging import start_job
from emoflow.chains import STEP_OUTPUTS, start_files, start_splits

start_job(snakemake.log[0])
start_splits(
    snakemake.input.features,
    start_files(
        snakemake.params.folds,
        snakemake.params.emotions,
        {name: snakemake.output[name] for name in STEP_OUTPUTS},
    ),
    start=snakemake.params.start,
    train=snakemake.params.train,
    attribution=snakemake.params.attribution,
    runtime=snakemake.resources,
    workers=snakemake.threads,
    threads=snakemake.resources.torch_threads,
)
