if DATASET.made_by_workflow:

    rule make_demo:
        output:
            labels=get_dataset_labels(),
            truth=get_ground_truth(),
            videos=directory(f"{config['dataset']['source']}/videos"),
        log:
            log("make_demo", "make_demo"),
        benchmark:
            bench("make_demo", "make_demo")
        # every later job waits for the demo's videos: render them on several cores
        # (Snakemake lowers this to --cores when fewer are given; on a cluster the
        # profile's set-threads decides, as no node is known here)
        threads: 4
        resources:
            mem_mb=2000,
            runtime=30,
        params:
            spec={**config["demo"], "emotions": config["dataset"]["emotions"]},
        script:
            "../scripts/make_demo.py"
