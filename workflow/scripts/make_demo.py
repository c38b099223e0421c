"""Rule make_demo: synthesise the demo data set (videos, labels.csv, ground_truth.json)."""

from pathlib import Path

from emoflow._logging import start_job
from emoflow.demo import DemoSpec, make_demo

start_job(snakemake.log[0])
spec = dict(snakemake.params.spec)
emotions = spec.pop("emotions")  # dataset.emotions, which the rule adds to the demo section
make_demo(
    Path(snakemake.output.labels).parent,
    DemoSpec.from_section(spec, emotions=emotions),
    workers=snakemake.threads,
)
