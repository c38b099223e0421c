# The report's items: Snakemake's report sorts categories and items by name, hence the
# numbers; each item is labelled. The run's settings reach the report through a file of their own, so no
# item's parameters panel lists the configuration or the input paths.
REPORT_SETTINGS = {
    # the chosen adapter's section only
    "dataset": {
        key: value
        for key, value in config["dataset"].items()
        if key not in ADAPTERS or key == config["dataset"]["adapter"]
    },
    **({"demo": config["demo"]} if config["dataset"]["adapter"] == "demo" else {}),
    "landmarks": config["landmarks"],
    "features": config["features"],
    # the chosen model kind's settings only (no backprop.* for an rvfl run)
    "train": kind_settings(config["train"]),
    "attribution": ATTRIBUTION_SETTINGS,
    "prune": PRUNE_SETTINGS,
    "evaluation": config["evaluation"],
    "report": config["report"],
}


# The settings that can change a result (no batch or memory knobs, only the chosen adapter's
# section): a change to any other setting re-runs neither this rule nor the report.
rule write_run_settings:
    output:
        settings=path(LAYOUT.report / "run_config.yaml"),
    log:
        log("write_run_settings", "write_run_settings"),
    benchmark:
        bench("write_run_settings", "write_run_settings")
    params:
        settings=REPORT_SETTINGS,
    script:
        "../scripts/write_run_settings.py"


rule make_report:
    input:
        summary=path(LAYOUT.summary),
        metrics=per_iteration(LAYOUT.metrics),
        attributions=[
            store
            for iteration in ITERATIONS
            for store in per_emotion(LAYOUT.attributions, iteration)
        ],
        scores=[
            table
            for iteration in ITERATIONS
            for table in per_emotion(LAYOUT.scores, iteration)
        ],
        landmarks=per_iteration(LAYOUT.landmark_sets),
        truth=get_ground_truth(),
        manifest=path(LAYOUT.manifest),
        features=path(LAYOUT.features),
        shards=[path(LAYOUT.landmark_shard(shard)) for shard in SHARDS],
        settings=path(LAYOUT.report / "run_config.yaml"),
        estimates=path(LAYOUT.evaluation_estimates),
        differences=path(LAYOUT.evaluation_differences),
    output:
        **glance_pages(),
        numbers=path(LAYOUT.report / "report.json"),
        summary_csv=path(LAYOUT.report / "summary.csv"),
        # the answer first: category 0 sorts before every other
        glance=report(
            path(LAYOUT.report / "at_a_glance.html"),
            caption="../report/glance.rst",
            category="0. Results at a glance",
            labels={
                "#": "0",
                "item": "results at a glance (table)",
                "emotion": "every emotion",
            },
        ),
        data=report(
            path(LAYOUT.report / "data_quality.html"),
            caption="../report/data.rst",
            category="1. Data and quality",
            labels={
                "#": "1",
                "item": "videos kept and dropped, face detection, held-out subjects (table)",
            },
        ),
        results=report(
            path(LAYOUT.report / "validation_vs_test.html"),
            caption="../report/results.rst",
            category="2. Validation and held-out test",
            labels={
                "#": "1",
                "item": "validation vs held-out test, per emotion and combined (table)",
            },
        ),
        confusion=report(
            path(LAYOUT.report / "confusion_matrix.png"),
            caption="../report/confusion.rst",
            category="2. Validation and held-out test",
            labels={"#": "2", "item": "combined classifier: confusion matrices"},
        ),
        selected_confusion=report(
            path(LAYOUT.report / "selected_confusion.png"),
            caption="../report/selected_confusion.rst",
            category="2. Validation and held-out test",
            labels={"#": "3", "item": "each selected model: confusion matrices"},
        ),
        accuracy=report(
            path(LAYOUT.report / "accuracy_vs_landmarks.png"),
            caption="../report/accuracy.rst",
            category="3. Accuracy and cost",
            labels={"#": "1", "item": "balanced accuracy vs landmarks kept"},
        ),
        cost=report(
            path(LAYOUT.report / "cost_vs_landmarks.png"),
            caption="../report/cost.rst",
            category="3. Accuracy and cost",
            labels={
                "#": "2",
                "item": "parameters, training and inference time vs landmarks kept",
            },
        ),
        summary=report(
            path(LAYOUT.report / "summary.html"),
            caption="../report/summary.rst",
            category="3. Accuracy and cost",
            labels={"#": "3", "item": "summary per emotion and iteration (table)"},
        ),
        selection=report(
            path(LAYOUT.report / "landmark_selection.html"),
            caption="../report/selection.rst",
            category="4. Landmark relevance",
            labels={
                "#": "3",
                "item": "landmarks kept by face region, with relevance and shares (table)",
                "emotion": "every emotion",
            },
        ),
        regions=path(LAYOUT.report / "relevance_by_region.parquet"),
        regions_csv=path(LAYOUT.report / "relevance_by_region.csv"),
        settings=report(
            path(LAYOUT.report / "run_settings.html"),
            caption="../report/config.rst",
            category="5. Run settings",
            labels={"#": "1", "item": "run settings (table)"},
        ),
    log:
        log("make_report", "make_report"),
    benchmark:
        bench("make_report", "make_report")
    priority: PRIORITY_CHAINS
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        top_k=config["report"]["top_k"],
    script:
        "../scripts/make_report.py"


# The figures on the face are a third of the report's drawing and need neither the scores
# nor the data inputs: drawn in a job of their own, beside make_report (the run's last jobs).
rule draw_face_figures:
    input:
        summary=path(LAYOUT.summary),
        metrics=per_iteration(LAYOUT.metrics),
        attributions=[
            store
            for iteration in ITERATIONS
            for store in per_emotion(LAYOUT.attributions, iteration)
        ],
        landmarks=per_iteration(LAYOUT.landmark_sets),
        truth=get_ground_truth(),
    output:
        **relevance_figures(),
        selected=report(
            path(LAYOUT.report / "selected_landmarks.png"),
            caption="../report/selected.rst",
            category="4. Landmark relevance",
            labels={
                "#": "2",
                "item": "landmarks kept by each selected model",
                "emotion": "every emotion",
            },
        ),
    log:
        log("draw_face_figures", "draw_face_figures"),
    benchmark:
        bench("draw_face_figures", "draw_face_figures")
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        top_k=config["report"]["top_k"],
    script:
        "../scripts/draw_face_figures.py"


# Writing a small YAML file: no job of its own on a cluster.
localrules:
    write_run_settings,


# The evidence: the nested evaluation's estimates, differences and verdicts as a page, and
# every ranking's outer-fold accuracy at every count as a figure (no torch, seconds).
rule report_evidence:
    input:
        estimates=path(LAYOUT.evaluation_estimates),
        differences=path(LAYOUT.evaluation_differences),
        curves=path(LAYOUT.evaluation_curves),
    output:
        page=report(
            path(LAYOUT.report / "evidence.html"),
            caption="../report/evidence.rst",
            category="2. Validation and held-out test",
            labels={
                "#": "0",
                "item": "the estimate: the procedure on subjects it never saw (table)",
            },
        ),
        numbers=path(LAYOUT.report / "evidence.json"),
        figure=report(
            path(LAYOUT.report / "accuracy_curves.png"),
            caption="../report/curves.rst",
            category="3. Accuracy and cost",
            labels={
                "#": "0",
                "item": "outer-fold accuracy vs landmarks kept, every ranking",
            },
        ),
    log:
        log("report_evidence", "report_evidence"),
    benchmark:
        bench("report_evidence", "report_evidence")
    priority: PRIORITY_BETWEEN
    resources:
        mem_mb=2000,
        runtime=15,
    script:
        "../scripts/report_evidence.py"
