# The report's items: Snakemake's report sorts categories by name, hence the numbers; each
# item is labelled, and its parameters panel shows the report's own settings only.
REPORT_SETTINGS = {
    "dataset": config["dataset"],
    **({"demo": config["demo"]} if config["dataset"]["adapter"] == "demo" else {}),
    "landmarks": config["landmarks"],
    "features": config["features"],
    "train": config["train"],
    "attribution": ATTRIBUTION_SETTINGS,
    "prune": PRUNE_SETTINGS,
    "report": config["report"],
}


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
    output:
        numbers=path(LAYOUT.report / "report.json"),
        summary_csv=path(LAYOUT.report / "summary.csv"),
        run_config=path(LAYOUT.report / "run_config.yaml"),
        data=report(
            path(LAYOUT.report / "data_quality.html"),
            caption="../report/data.rst",
            category="1. Data and quality",
            labels={"item": "videos, detection, dropped videos, held-out subjects"},
        ),
        results=report(
            path(LAYOUT.report / "validation_vs_test.html"),
            caption="../report/results.rst",
            category="2. Validation and held-out test",
            labels={"item": "table: validation vs test"},
        ),
        confusion=report(
            path(LAYOUT.report / "confusion_matrix.png"),
            caption="../report/confusion.rst",
            category="2. Validation and held-out test",
            labels={"item": "combined classifier: confusion matrices"},
        ),
        selected_confusion=report(
            path(LAYOUT.report / "selected_confusion.png"),
            caption="../report/selected_confusion.rst",
            category="2. Validation and held-out test",
            labels={"item": "selected models: confusion matrices"},
        ),
        accuracy=report(
            path(LAYOUT.report / "accuracy_vs_landmarks.png"),
            caption="../report/accuracy.rst",
            category="3. Accuracy and cost",
            labels={"item": "accuracy vs landmarks"},
        ),
        cost=report(
            path(LAYOUT.report / "cost_vs_landmarks.png"),
            caption="../report/cost.rst",
            category="3. Accuracy and cost",
            labels={"item": "cost vs landmarks"},
        ),
        summary=report(
            path(LAYOUT.report / "summary.html"),
            caption="../report/summary.rst",
            category="3. Accuracy and cost",
            labels={"item": "table: summary per iteration"},
        ),
        relevance=report(
            path(LAYOUT.report / "relevance_on_face.png"),
            caption="../report/relevance.rst",
            category="4. Landmark relevance",
            labels={"item": "relevance on the face"},
        ),
        selected=report(
            path(LAYOUT.report / "selected_landmarks.png"),
            caption="../report/selected.rst",
            category="4. Landmark relevance",
            labels={"item": "landmarks kept"},
        ),
        selection=report(
            path(LAYOUT.report / "landmark_selection.html"),
            caption="../report/selection.rst",
            category="4. Landmark relevance",
            labels={"item": "table: landmarks kept by region"},
        ),
        settings=report(
            path(LAYOUT.report / "run_settings.html"),
            caption="../report/config.rst",
            category="5. Run settings",
            labels={"item": "table: run settings"},
        ),
    log:
        log("make_report", "make_report"),
    benchmark:
        bench("make_report", "make_report")
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        out_dir=lambda wildcards, output: str(Path(output.numbers).parent),
        # per iteration, its emotions' attribution stores and scores tables
        attributions=[
            per_emotion(LAYOUT.attributions, iteration) for iteration in ITERATIONS
        ],
        scores=[per_emotion(LAYOUT.scores, iteration) for iteration in ITERATIONS],
        top_k=config["report"]["top_k"],
        # settings that can change a result (no batch or memory knobs): a change to anything
        # else never re-runs the report
        settings=REPORT_SETTINGS,
    script:
        "../scripts/make_report.py"
