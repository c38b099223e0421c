# Entry points a newcomer needs; see README.md.
CORES ?= 2

.PHONY: setup cluster-setup demo test lint config-schema

.venv/.installed: requirements/base.txt requirements/dev.txt requirements/constraints.txt pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $@

setup: .venv/.installed

# The cluster executors (requirements/cluster.txt), for profiles/slurm and profiles/generic.
.venv/.cluster-installed: requirements/cluster.txt .venv/.installed
	bash scripts/setup.sh --cluster
	touch $@

cluster-setup: .venv/.cluster-installed

# Set up, then run the whole workflow on the built-in demo data (config/config.yaml; the
# workflow writes the demo data set to resources/demo first).
# The package is byte-compiled first: the workflow's ~80 job processes each import it, and
# where PYTHONDONTWRITEBYTECODE is set (as on our CI machines) each would compile it again.
demo: setup
	.venv/bin/python -m compileall -q emoflow
	.venv/bin/snakemake --cores $(CORES)
	.venv/bin/snakemake --report results/report.html

# Write emoflow/config/config.schema.yaml from the settings classes (the tests fail when it is
# not current: run this after changing a settings class or tools/config.schema.base.yaml).
config-schema: setup
	.venv/bin/python tools/make_config_schema.py

# the tests plan and submit the demo through the cluster profiles: their executors are needed
test: setup cluster-setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check emoflow workflow/scripts tests benchmarks tools
	.venv/bin/ruff format --check emoflow workflow/scripts tests benchmarks tools
	.venv/bin/snakefmt --check Snakefile workflow/rules
	# every lint except the accepted "conda environment or container" one fails (see README)
	! .venv/bin/snakemake --lint 2>&1 | grep -E '^\s+\*' | grep -v 'Specify a conda environment or container'
	.venv/bin/mypy
	# the architecture contract: layers and no import cycles ([tool.importlinter] in pyproject.toml)
	.venv/bin/lint-imports
