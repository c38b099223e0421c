"""Rule compare_pruning: one pruning baseline of one emotion at the IG chain's counts."""

from emoflow._logging import start_job
from emoflow.comparison import compare_pruning

start_job(snakemake.log[0])
compare_pruning(
    snakemake.input.features,
    list(snakemake.input.landmarks),
    snakemake.wildcards.emotion,
    snakemake.wildcards.ranking,
    snakemake.output.table,
    train=snakemake.params.train,
    attribution=snakemake.params.attribution,
    seeds=snakemake.params.seeds,
    threads=snakemake.resources.torch_threads,
)
