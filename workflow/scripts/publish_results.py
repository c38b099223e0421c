"""Rule publish_results: the selected iterations and the digests of every file predict and
explain read → results/published.json (one atomically replaced record)."""

from emoflow._logging import start_job
from emoflow.published import publish_run
from emoflow.storage.summary import selected_iterations

start_job(snakemake.log[0])
publish_run(
    snakemake.output.published,
    selected=selected_iterations(snakemake.input.summary),
    summary=snakemake.input.summary,
    models=list(snakemake.input.models),
    stores=[snakemake.input.features, *snakemake.input.attributions],
)
