# Two commands do all the set-up:  `make lab`  and  `make test`.
# Both (re)create .venv from requirements.txt when it is missing or out of date.

PYTHON      ?= python3
VENV        ?= .venv
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.installed
# Extra package index for PyTorch, e.g. https://download.pytorch.org/whl/cpu
# (CPU-only build) or https://download.pytorch.org/whl/cu126 (CUDA 12.6).
TORCH_INDEX ?=
# Two notebooks at a time under nbval (pytest-xdist), never one split in two.
WORKERS     ?= 2
NOTEBOOKS   ?= notebooks
LAB_ARGS    ?= $(if $(filter 0,$(shell id -u)),--allow-root,)
# `make test-lowest`: a second environment with every lower bound of requirements.txt.
LOWEST       ?= .venv-lowest
LOWEST_BIN   := $(LOWEST)/bin
LOWEST_STAMP := $(LOWEST)/.installed
# `make test-newest`: a third environment with the newest versions requirements.txt admits
# (no constraints file: on Linux, PyPI's torch, CUDA and Triton included).
NEWEST       ?= .venv-newest
NEWEST_BIN   := $(NEWEST)/bin
NEWEST_STAMP := $(NEWEST)/.installed
# A notebook cell that runs longer than this fails (nbval's own default is 2,000 s): the
# slowest quick-mode cell takes about a minute on 2 cores, so a dead kernel costs minutes.
CELL_TIMEOUT ?= 300
# The check itself, the same in every environment: unit tests and every notebook in quick mode.
# One thread per process: two notebooks share two cores, and OpenMP threads that
# spin-wait for a busy core slow PyTorch down by an order of magnitude.
CHECK = TP_QUICK=1 OMP_NUM_THREADS=1 $(1)/python -m pytest -n $(WORKERS) --dist loadfile \
	    --nbval-lax --nbval-current-env --nbval-cell-timeout=$(CELL_TIMEOUT) tests $(NOTEBOOKS)

.PHONY: help venv sandbox lab test test-lowest test-newest newest-refresh lint unit notebooks bench bench-accuracy student answers publish-student \
        grade html badges clean

help:
	@echo "make lab    - set up .venv if needed, then open JupyterLab on notebooks/"
	@echo "make test   - set up .venv if needed, then lint, unit tests and every notebook (quick mode)"
	@echo "make test-lowest - the same check in .venv-lowest, every package at its lower bound"
	@echo "make test-newest - the same check in .venv-newest, the newest versions the ranges admit"
	@echo "make bench  - epoch time of NumPy, PyTorch and Keras (results/bench/)"
	@echo "make bench-accuracy - each tool on full Fashion-MNIST (needs dataset-fashion-mnist)"
	@echo "make student - the student edition: a runnable tree, solutions blanked (build/student/)"
	@echo "make publish-student - commit that edition to the student branch (pushes nothing)"
	@echo "make answers - which functions of the student edition pass a self-check as they are"
	@echo "make grade SUBMISSIONS=DIR - run and grade DIR/<student>/NN_*.ipynb (build/grades/)"
	@echo "make html   - execute every notebook into the course book (build/html/; TP_QUICK=1 honoured)"
	@echo "make badges - rewrite the Colab badges and setup cells from [tool.course] in pyproject.toml"
	@echo "make clean  - remove .venv, build/ and results/"

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
	    -r requirements.txt -c constraints.txt \
	    $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX),)
	# the course itself, editable: `import utils` works from any folder, nothing edits sys.path
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=$(NOTEBOOKS) $(LAB_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

# Unit tests and nbval in one pytest run, so CI gets one summary line.
test: $(STAMP) lint sandbox
	$(call CHECK,$(BIN))

# The lowest versions requirements.txt admits (constraints-lowest.txt instead of
# constraints.txt), in their own environment, then the same check as `make test`.
$(LOWEST_STAMP): requirements.txt constraints-lowest.txt pyproject.toml
	@test -x $(LOWEST_BIN)/python || $(PYTHON) -m venv $(LOWEST)
	$(LOWEST_BIN)/python -m pip install --quiet --disable-pip-version-check \
	    -r requirements.txt -c constraints-lowest.txt \
	    $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX),)
	$(LOWEST_BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(LOWEST_STAMP)

test-lowest: $(LOWEST_STAMP) sandbox
	$(LOWEST_BIN)/ruff check .
	$(call CHECK,$(LOWEST_BIN))

# The newest versions requirements.txt admits: no constraints file, and pip's --upgrade
# so that an existing .venv-newest moves on too. Reinstalls when a requirement changes;
# `rm .venv-newest/.installed` (or `make test-newest NEWEST_REFRESH=1`) to pick up new releases.
$(NEWEST_STAMP): requirements.txt pyproject.toml
	@test -x $(NEWEST_BIN)/python || $(PYTHON) -m venv $(NEWEST)
	$(NEWEST_BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade \
	    -r requirements.txt $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX),)
	$(NEWEST_BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(NEWEST_BIN)/python -m pip list --disable-pip-version-check --format=freeze > $(NEWEST)/versions.txt
	@touch $(NEWEST_STAMP)

test-newest: $(if $(NEWEST_REFRESH),newest-refresh,) $(NEWEST_STAMP) sandbox
	@grep -iE '^(numpy|pandas|matplotlib|torch|triton|tensorflow|tensorflow-cpu|keras|codecarbon)==' \
	    $(NEWEST)/versions.txt | tr '\n' ' '; echo
	$(NEWEST_BIN)/ruff check .
	$(call CHECK,$(NEWEST_BIN))

newest-refresh:
	rm -f $(NEWEST_STAMP)

unit: $(STAMP)
	$(BIN)/python -m pytest tests

# -p tests.conftest: results go to a temporary folder, as under `make test`
notebooks: $(STAMP)
	TP_QUICK=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -p tests.conftest -n $(WORKERS) --dist loadfile \
	    --nbval-lax --nbval-current-env --nbval-cell-timeout=$(CELL_TIMEOUT) $(NOTEBOOKS)

bench: $(STAMP)
	$(BIN)/python tools/bench.py

bench-accuracy: $(STAMP)
	$(BIN)/python tools/bench.py --accuracy

student: $(STAMP)
	$(BIN)/python tools/student.py

answers: $(STAMP)
	$(BIN)/python tools/answers.py

publish-student: $(STAMP)
	$(BIN)/python tools/publish.py

# The grader runs each submission in a bubblewrap sandbox (tools/sandbox.py): bwrap is installed
# here when missing (apt-get, as root), else the rule says how. `make test` grades hostile
# submissions in it too.
sandbox:
	@command -v bwrap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y -q bubblewrap >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q bubblewrap >/dev/null; }; \
	  else \
	    echo "make: the grader's sandbox needs bubblewrap: sudo apt-get install bubblewrap (Fedora: sudo dnf install bubblewrap)" >&2; exit 1; \
	  fi; }

# GRADE_ARGS: e.g. --jobs 2 --cell-timeout 120 --timeout 600 (python tools/grade.py --help)
grade: $(STAMP) sandbox
	$(BIN)/python tools/grade.py $(if $(SUBMISSIONS),"$(SUBMISSIONS)",) $(GRADE_ARGS)

html: $(STAMP)
	$(BIN)/python tools/book.py

badges: $(STAMP)
	$(BIN)/python tools/colab.py

clean:
	rm -rf $(VENV) build results
