"""Rule write_run_settings: the run's settings that shape its results, for the report."""

from emoflow._logging import start_job
from emoflow.report import write_run_settings

start_job(snakemake.log[0])
write_run_settings(snakemake.params.settings, snakemake.output.settings)
