# One job per shard of videos. A shard's videos (ids, paths, windows; not labels) and a digest
# of what their extraction depends on (with file sizes and times) are planned before the run
# (common.smk) and are the job's parameters; the job does not read the manifest, so a label
# fix re-extracts nothing, and another video re-runs its own shard only. With landmarks.frames
# sampled, only the frames the features read are meshed: features.n_frames is then a parameter
# (a change of it re-extracts); with frames all it is not. mem_mb follows the shard's largest
# frame size and its frame count (SHARD_MEM_MB, common.smk).
rule extract_landmarks:
    input:
        videos=DATASET.extraction_inputs(config["dataset"]["source"]),
    output:
        table=path(LAYOUT.landmark_shard("{shard}")),
    log:
        log("extract_landmarks", "{shard}"),
    benchmark:
        bench("extract_landmarks", "{shard}")
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: SHARD_MEM_MB[int(wildcards.shard)] * attempt,
        runtime=120,
    params:
        videos=lambda wildcards: SHARD_PLAN[int(wildcards.shard)]["videos"],
        digest=lambda wildcards: SHARD_PLAN[int(wildcards.shard)]["digest"],
        settings=extraction_settings(
            config["landmarks"], config["features"]["n_frames"]
        ),
    script:
        "../scripts/extract_landmarks.py"
