"""Rule write_provenance: the run's configuration, seeds, package versions → JSON."""

from emoflow._logging import start_job
from emoflow.provenance import write_provenance

start_job(snakemake.log[0])
write_provenance(snakemake.output.provenance, snakemake.params.config)
