"""Rule gather_comparison: every pruning baseline beside the IG chain, and its figure."""

from emoflow._logging import start_job
from emoflow.comparison import gather_comparison

start_job(snakemake.log[0])
gather_comparison(
    list(snakemake.input.tables),
    snakemake.params.chain_metrics,
    snakemake.params.chain_sets,
    snakemake.input.summary,
    snakemake.output.table,
    figure_path=snakemake.output.figure,
    page_path=snakemake.output.page,
)
