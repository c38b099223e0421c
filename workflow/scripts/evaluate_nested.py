"""Rule evaluate_nested: the outer folds' chains and baselines → estimates with intervals,
paired differences with verdicts, matched-count curves."""

from emoflow._logging import start_job
from emoflow.evaluation import evaluate_nested

start_job(snakemake.log[0])
evaluate_nested(
    snakemake.params.chains,
    dict(snakemake.output.items()),
    comparisons=list(snakemake.input.comparisons),
    deployed=snakemake.params.deployed,
    summary_path=snakemake.input.summary,
    tolerance=snakemake.params.tolerance,
    settings=snakemake.params.settings,
)
