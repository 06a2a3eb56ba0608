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

.PHONY: help venv lab test test-lowest lint unit notebooks bench bench-accuracy student publish-student \
        grade html badges clean

help:
	@echo "make lab    - set up .venv if needed, then open JupyterLab on notebooks/"
	@echo "make test   - set up .venv if needed, then lint, unit tests and every notebook (quick mode)"
	@echo "make test-lowest - the same check in .venv-lowest, every package at its lower bound"
	@echo "make bench  - epoch time of NumPy, PyTorch and Keras (results/bench/)"
	@echo "make bench-accuracy - each tool on full Fashion-MNIST (needs dataset-fashion-mnist)"
	@echo "make student - the student edition: a runnable tree, solutions blanked (build/student/)"
	@echo "make publish-student - commit that edition to the student branch (pushes nothing)"
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
# One thread per process: two notebooks share two cores, and OpenMP threads that
# spin-wait for a busy core slow PyTorch down by an order of magnitude.
test: $(STAMP) lint
	TP_QUICK=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(WORKERS) --dist loadfile \
	    --nbval-lax --nbval-current-env tests $(NOTEBOOKS)

# The lowest versions requirements.txt admits (constraints-lowest.txt instead of
# constraints.txt), in their own environment, then the same check as `make test`.
$(LOWEST_STAMP): requirements.txt constraints-lowest.txt pyproject.toml
	@test -x $(LOWEST_BIN)/python || $(PYTHON) -m venv $(LOWEST)
	$(LOWEST_BIN)/python -m pip install --quiet --disable-pip-version-check \
	    -r requirements.txt -c constraints-lowest.txt \
	    $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX),)
	$(LOWEST_BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(LOWEST_STAMP)

test-lowest: $(LOWEST_STAMP)
	$(LOWEST_BIN)/ruff check .
	TP_QUICK=1 OMP_NUM_THREADS=1 $(LOWEST_BIN)/python -m pytest -n $(WORKERS) --dist loadfile \
	    --nbval-lax --nbval-current-env tests $(NOTEBOOKS)

unit: $(STAMP)
	$(BIN)/python -m pytest tests

# -p tests.conftest: results go to a temporary folder, as under `make test`
notebooks: $(STAMP)
	TP_QUICK=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -p tests.conftest -n $(WORKERS) --dist loadfile \
	    --nbval-lax --nbval-current-env $(NOTEBOOKS)

bench: $(STAMP)
	$(BIN)/python tools/bench.py

bench-accuracy: $(STAMP)
	$(BIN)/python tools/bench.py --accuracy

student: $(STAMP)
	$(BIN)/python tools/student.py

publish-student: $(STAMP)
	$(BIN)/python tools/publish.py

# GRADE_ARGS: e.g. --jobs 2 --cell-timeout 120 --timeout 600 (python tools/grade.py --help)
grade: $(STAMP)
	$(BIN)/python tools/grade.py $(if $(SUBMISSIONS),"$(SUBMISSIONS)",) $(GRADE_ARGS)

html: $(STAMP)
	$(BIN)/python tools/book.py

badges: $(STAMP)
	$(BIN)/python tools/colab.py

clean:
	rm -rf $(VENV) build results
