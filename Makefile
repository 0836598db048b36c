# Phase 2 — 딥러닝 심화와 트랜스포머: the two commands of the README, and a few helpers.
#
#   make demo   set up, regenerate release/, autograde an example class, print the grade table
#   make test   set up, run the whole test suite (what CI runs)
#
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
JOBS ?= 2

# Course data (CIFAR-10, Multi30k): ../shared/data when it is there, else DLCOURSE_DATA_ROOT or
# ~/dlcourse_data. Decoded caches go inside the project.
SHARED_DATA := $(wildcard $(abspath ../shared/data))
ifneq ($(SHARED_DATA),)
export DLCOURSE_DATA_ROOT ?= $(SHARED_DATA)
endif
export DLCOURSE_CACHE_DIR ?= $(CURDIR)/.cache/dlcourse
# Jupyter writes into the project, never into ~/.jupyter.
export JUPYTER_CONFIG_DIR := $(CURDIR)/.jupyter/config
export JUPYTER_DATA_DIR := $(CURDIR)/.jupyter/data
export JUPYTER_RUNTIME_DIR := $(CURDIR)/.jupyter/runtime
export IPYTHONDIR := $(CURDIR)/.jupyter/ipython
export MPLCONFIGDIR := $(CURDIR)/.jupyter/matplotlib
# nbgrader runs `alembic` (gradebook migrations) from PATH: the venv's tools come first
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup demo test report release student-wheel student-bundle lab labs clean grade formgrader formgrader-demo

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt lib/pyproject.toml lib/staff/pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e lib -e lib/staff
	$(PY) -m compileall -q lib  # grading kernels may not write __pycache__: ship the bytecode
	@mkdir -p $(JUPYTER_CONFIG_DIR) $(JUPYTER_DATA_DIR) $(JUPYTER_RUNTIME_DIR) $(IPYTHONDIR) $(MPLCONFIGDIR)
	@touch $@

demo: setup
	$(PY) -m dlcourse_staff demo

test: setup
	$(PY) -m pytest -n $(JOBS) tests

# Autograde a class: make grade ASSIGNMENT=week05 [JOBS=4] (python -m dlcourse_staff grade --help)
grade: setup
	$(PY) -m dlcourse_staff grade $(ASSIGNMENT) --workers $(JOBS)

report: setup
	$(PY) -m dlcourse_staff report

release: setup
	$(PY) -m dlcourse_staff release

student-wheel: setup
	$(PY) -m dlcourse_staff student-wheel

# What an instructor hands out: dist/student-bundle/ and dist/student-bundle.zip
# (EXCHANGE=/srv/nbgrader/exchange names the exchange folder students submit to)
student-bundle: setup
	$(PY) -m dlcourse_staff student-bundle $(if $(EXCHANGE),--exchange $(EXCHANGE))

# Manual grading and feedback in formgrader: the real class, or the demo class of `make demo`
formgrader: setup
	$(PY) -m dlcourse_staff formgrader

formgrader-demo: setup
	$(PY) -m dlcourse_staff formgrader --demo

lab: setup
	$(VENV)/bin/jupyter lab release/

# The week-6 labs 01–05 run headless in the lab sheet's order; each writes its figures into
# source/week06-labs/outputs/ (MODE=fast for a smoke run of seconds)
labs: setup
	MPLBACKEND=Agg $(PY) -m dlcourse_staff.labs --mode $(or $(MODE),full)

clean:
	rm -rf .cache .jupyter submitted feedback exchange downloaded gradebook.db gradebook.db-wal gradebook.db-shm dist build .pytest_cache
	find autograded -mindepth 1 ! -name README.md -exec rm -rf {} +
