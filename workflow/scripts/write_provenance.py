"""Rule write_provenance: the run's configuration, seeds, package versions → JSON."""

from emoflow._logging import log_to_file
from emoflow.provenance import write_provenance

log_to_file(snakemake.log[0])
write_provenance(snakemake.output.provenance, snakemake.params.config)
