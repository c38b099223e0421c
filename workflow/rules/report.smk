rule make_report:
    input:
        summary="results/summary.parquet",
        metrics=per_iteration("results/iter_{iteration}/metrics.json"),
        attributions=per_iteration("results/iter_{iteration}/attributions.zarr"),
        landmarks=per_iteration("results/iter_{iteration}/landmarks.json"),
        truth=get_ground_truth(),
    output:
        numbers="results/report/report.json",
        summary=report(
            "results/report/summary.csv",
            caption="../report/summary.rst",
            category="Summary",
        ),
        run_config=report(
            "results/report/run_config.yaml",
            caption="../report/config.rst",
            category="Configuration",
        ),
        accuracy=report(
            "results/report/accuracy_vs_landmarks.png",
            caption="../report/accuracy.rst",
            category="Accuracy and cost",
        ),
        relevance=report(
            "results/report/relevance_on_face.png",
            caption="../report/relevance.rst",
            category="Landmark relevance",
        ),
        selected=report(
            "results/report/selected_landmarks.png",
            caption="../report/selected.rst",
            category="Landmark relevance",
        ),
        confusion=report(
            "results/report/confusion_matrix.png",
            caption="../report/confusion.rst",
            category="Accuracy and cost",
        ),
    log:
        "logs/make_report/make_report.log",
    benchmark:
        "benchmarks/make_report/make_report.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        out_dir=lambda wildcards, output: str(Path(output.numbers).parent),
        top_k=config["report"]["top_k"],
        run_config=config,
    script:
        "../scripts/make_report.py"
