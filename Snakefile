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
include: "workflow/rules/compare.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/provenance.smk"
include: "workflow/rules/publish.smk"


# Seconds of work each: on a cluster they run in the submitting Snakemake process rather
# than queue as jobs (gathering an iteration sits between its models and the report).
localrules:
    all,
    build_manifest,
    gather_iteration,
    publish_results,
    summarise_iterations,
    evaluate_nested,
    write_provenance,


rule all:
    default_target: True
    input:
        get_final_outputs(),


# Before a run submits or runs anything: on SLURM, every job's request against what the nodes
# of its partition can give (sinfo), and a status command that works (one line per problem
# instead of a job that pends for ever); then the one-writer lock inside the results folder,
# whatever the working folder (dry runs, --report and the jobs' own Snakemake processes run no
# onstart; emoflow.cluster, emoflow.runlock).
onstart:
    from emoflow.cluster import check_submission

    check_submission(workflow)
    RESULTS_LOCK.acquire()


# At the end of a successful run: how many videos became training samples, which were
# dropped and why (read from the feature store, which the report shows too), and the videos
# decoded only in part or with a header their frames contradict (from the shards' records).
onsuccess:
    import sys
    from emoflow.features import sample_summary

    RESULTS_LOCK.release()
    summary = sample_summary(path(LAYOUT.features))
    if summary:
        print(summary, file=sys.stderr)
    from emoflow.landmarks import decoding_summary

    decoding = decoding_summary(
        [path(LAYOUT.landmark_shard(shard)) for shard in SHARDS]
    )
    if decoding:
        print(decoding, file=sys.stderr)


# A failed run: the lock given back, and jobs that ran out of memory (or were killed) named as
# such, with the rule's mem_mb and the peak memory seen (from the failed jobs' logs).
onerror:
    import sys
    from emoflow._logging import job_faults

    RESULTS_LOCK.release()
    for fault in job_faults(log):
        print(f"emoflow: {fault}", file=sys.stderr)
