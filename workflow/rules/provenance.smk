rule write_provenance:
    output:
        provenance="results/provenance.json",
    log:
        "logs/write_provenance/write_provenance.log",
    benchmark:
        "benchmarks/write_provenance/write_provenance.tsv"
    params:
        config=config,
    script:
        "../scripts/write_provenance.py"
