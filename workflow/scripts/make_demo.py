"""Rule make_demo: synthesise the demo data set (videos, labels.csv, ground_truth.json)."""

from pathlib import Path

from emoflow._logging import log_to_file
from emoflow.demo import DemoSpec, make_demo

log_to_file(snakemake.log[0])
spec = dict(snakemake.params.spec)
spec["emotions"] = tuple(spec["emotions"])
make_demo(Path(snakemake.output.labels).parent, DemoSpec(**spec))
