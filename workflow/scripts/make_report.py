"""Rule make_report: figures of accuracy/cost versus landmarks and relevance on the face."""

from emoflow._logging import log_to_file
from emoflow.report import make_report

log_to_file(snakemake.log[0])
make_report(
    snakemake.input.summary,
    snakemake.input.metrics,
    snakemake.params.attributions,
    snakemake.input.landmarks,
    snakemake.params.out_dir,
    ground_truth_path=snakemake.input.truth or None,
    top_k=snakemake.params.top_k,
    run_config=snakemake.params.run_config,
)
