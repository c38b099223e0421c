"""Rule summarise_iterations: all iterations' metrics → results/summary.parquet."""

from emoflow._logging import start_job
from emoflow.pruning import summarise_iterations

start_job(snakemake.log[0])
summarise_iterations(
    snakemake.input.metrics, snakemake.output.summary, tolerance=snakemake.params.tolerance
)
