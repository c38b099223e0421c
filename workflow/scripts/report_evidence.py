"""Rule report_evidence: the nested evaluation as the report's evidence page and figure."""

from emoflow._logging import start_job
from emoflow.report import report_evidence

start_job(snakemake.log[0])
report_evidence(
    snakemake.input.estimates,
    snakemake.input.differences,
    snakemake.input.curves,
    page_path=snakemake.output.page,
    numbers_path=snakemake.output.numbers,
    figure_path=snakemake.output.figure,
)
