# emoflow: videos → MediaPipe landmarks → features → randomized deep networks →
# Integrated Gradients → landmark pruning (iterated) → report.
# All logic lives in the `emoflow` package; rules only connect files.
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# The defaults come from the workflow's own folder, wherever it is run from; a user's
# --configfile (or --config) overrides them key by key.
configfile: Path(workflow.basedir) / "config" / "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/manifest.smk"
include: "workflow/rules/landmarks.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/prune.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/provenance.smk"


# Seconds of work each: on a cluster they run in the submitting Snakemake process rather
# than queue as jobs (gathering an iteration sits between its models and the report).
localrules:
    all,
    build_manifest,
    gather_iteration,
    summarise_iterations,
    write_provenance,


rule all:
    default_target: True
    input:
        get_final_outputs(),


# Before a SLURM run submits anything: every job's request against what the nodes of its
# partition can give (sinfo), and a status command that works; one line per problem instead of
# a job that pends for ever.
onstart:
    from emoflow.cluster import check_submission

    check_submission(workflow)


# At the end of a successful run: how many videos became training samples, which were
# dropped and why (read from the feature store, which the report shows too).
onsuccess:
    import sys
    from emoflow.features import sample_summary

    summary = sample_summary(path(LAYOUT.features))
    if summary:
        print(summary, file=sys.stderr)
