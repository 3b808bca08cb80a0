# sessionizer: every developer and CI command. `make test` works from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALL_STAMP := $(VENV)/.installed
JARS_STAMP := dev/lib/.fetched
# mypy --strict over the code folders that hold Python files (an empty folder makes mypy fail).
MYPY_DIRS := $(foreach d,sessionizer ingest streams sinks tests bench,$(if $(shell find $(d) -name '*.py' 2>/dev/null | head -n 1),$(d)))

.PHONY: install test lint demo dev-up dev-down dev-status

## install: .venv with the project (editable) and test tools, plus the local Kafka jars
install: $(INSTALL_STAMP) $(JARS_STAMP)

$(INSTALL_STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	touch $@

$(JARS_STAMP): dev/pom.xml
	rm -rf dev/lib
	mvn -q -B -f dev/pom.xml dependency:copy-dependencies -DincludeScope=runtime \
		-DoutputDirectory=$(CURDIR)/dev/lib
	touch $@

## lint: ruff and mypy --strict
lint: $(INSTALL_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy $(MYPY_DIRS)

## test: install, stack up, lint, the whole pytest suite, stack down (if this run started it)
test: install
	MYPY_DIRS="$(MYPY_DIRS)" dev/run-tests.sh

## demo: stack up, worker, simulated traffic, report, check, all stopped again (dev/run-demo.sh)
demo: install
	dev/run-demo.sh

dev-up: install
	$(BIN)/sessionizer dev up

dev-down: $(INSTALL_STAMP)
	$(BIN)/sessionizer dev down

dev-status: $(INSTALL_STAMP)
	$(BIN)/sessionizer dev status
