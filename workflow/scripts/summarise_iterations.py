"""Rule summarise_iterations: all iterations' metrics → results/summary.parquet."""

from emoflow._logging import log_to_file
from emoflow.pruning import summarise_iterations

log_to_file(snakemake.log[0])
summarise_iterations(
    snakemake.input.metrics, snakemake.output.summary, tolerance=snakemake.params.tolerance
)
