rule write_provenance:
    output:
        provenance=path(LAYOUT.provenance),
    log:
        log("write_provenance", "write_provenance"),
    benchmark:
        bench("write_provenance", "write_provenance")
    params:
        config=config,
    script:
        "../scripts/write_provenance.py"
