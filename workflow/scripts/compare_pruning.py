"""Rule compare_pruning: the pruning baselines of one emotion in one outer fold, at the fold's
IG chain's counts."""

from emoflow._logging import start_job
from emoflow.comparison import compare_pruning

start_job(snakemake.log[0])
compare_pruning(
    snakemake.input.features,
    list(snakemake.input.landmarks),
    snakemake.wildcards.emotion,
    snakemake.output.table,
    rankings=snakemake.params.rankings,
    outer_fold=snakemake.params.fold,
    train=snakemake.params.train,
    attribution=snakemake.params.attribution,
    seeds=snakemake.params.seeds,
    threads=snakemake.resources.torch_threads,
)
