rule make_report:
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
        numbers=path(LAYOUT.report / "report.json"),
        summary=report(
            path(LAYOUT.report / "summary.csv"),
            caption="../report/summary.rst",
            category="Summary",
        ),
        run_config=report(
            path(LAYOUT.report / "run_config.yaml"),
            caption="../report/config.rst",
            category="Configuration",
        ),
        accuracy=report(
            path(LAYOUT.report / "accuracy_vs_landmarks.png"),
            caption="../report/accuracy.rst",
            category="Accuracy and cost",
        ),
        relevance=report(
            path(LAYOUT.report / "relevance_on_face.png"),
            caption="../report/relevance.rst",
            category="Landmark relevance",
        ),
        selected=report(
            path(LAYOUT.report / "selected_landmarks.png"),
            caption="../report/selected.rst",
            category="Landmark relevance",
        ),
        confusion=report(
            path(LAYOUT.report / "confusion_matrix.png"),
            caption="../report/confusion.rst",
            category="Accuracy and cost",
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
        # per iteration, its emotions' attribution stores
        attributions=[
            per_emotion(LAYOUT.attributions, iteration) for iteration in ITERATIONS
        ],
        top_k=config["report"]["top_k"],
        run_config=config,
    script:
        "../scripts/make_report.py"
