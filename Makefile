# Two commands on a fresh machine: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install dev exiftool run try test lint messages corpus-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

dev: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'

run: install
	$(BIN)/tipbot run

try: install
	$(BIN)/tipbot try

# The sanitizer tests double-check their output with exiftool, a system tool: installed here when this
# machine allows it (root with apt-get); otherwise those checks are skipped with a reason.
exiftool:
	@{ command -v exiftool >/dev/null 2>&1 && perl -MArchive::Zip -e1 2>/dev/null; } || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ apt-get install -y -qq libimage-exiftool-perl libarchive-zip-perl >/dev/null 2>&1 || \
		  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq libimage-exiftool-perl libarchive-zip-perl >/dev/null 2>&1; }; }; } || \
		echo "exiftool is not installed: the exiftool checks will be skipped"

test: dev exiftool
	$(BIN)/ruff check bot storage tests scripts
	$(BIN)/python -m pytest -q

lint: dev
	$(BIN)/ruff check bot storage tests scripts

# Re-extract the strings to translate and merge them into every catalogue.
messages: dev
	$(BIN)/pybabel extract --no-location --sort-output -k _ -k N_ -o locales/bot.pot bot
	$(BIN)/pybabel update --no-fuzzy-matching -D bot -i locales/bot.pot -d locales

# Developer check: the public sample files of ../shared/corpus through every sanitizer, read by exiftool.
corpus-check: dev exiftool
	$(BIN)/python scripts/check_corpus.py

clean:
	rm -rf $(VENV) .pytest_cache
