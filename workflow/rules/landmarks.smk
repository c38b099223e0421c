# One job per shard of videos. A shard's videos and a digest of what their extraction depends
# on (ids, paths, windows, file sizes and times; not labels) are planned before the run
# (common.smk), so the manifest is an `ancient` input: rebuilding it for a label fix
# re-extracts nothing, and another video re-runs its own shard only.
rule extract_landmarks:
    input:
        manifest=ancient(path(LAYOUT.manifest)),
        videos=DATASET.extraction_inputs(config["dataset"]["source"]),
    output:
        table=path(LAYOUT.landmark_shard("{shard}")),
    log:
        log("extract_landmarks", "{shard}"),
    benchmark:
        bench("extract_landmarks", "{shard}")
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=120,
    params:
        video_ids=lambda wildcards: SHARD_PLAN[int(wildcards.shard)]["video_ids"],
        digest=lambda wildcards: SHARD_PLAN[int(wildcards.shard)]["digest"],
        settings=extraction_settings(config["landmarks"]),
    script:
        "../scripts/extract_landmarks.py"
