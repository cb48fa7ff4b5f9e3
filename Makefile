# manga2video: `make run` runs the whole pipeline locally; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Set TF_PLUGIN_DIR to a provider mirror to init Terraform offline; unset, the registry is used.
TF_PLUGIN_DIR ?=
TF_INIT_FLAGS := -input=false $(if $(TF_PLUGIN_DIR),-plugin-dir=$(TF_PLUGIN_DIR),)

.PHONY: help setup system-deps test lint fmt validate package run reset bench-render tools plan deploy destroy tf-init

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-14s %s\n", $$1, $$2}'

system-deps: ## apt packages: ffmpeg, espeak-ng, DejaVu fonts, Node.js (only what is missing)
	@bash scripts/install_system_deps.sh

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

setup: system-deps $(VENV)/.installed node_modules/.installed ## venv, Python and npm dependencies, system packages

test: setup tools validate ## every test: unit, state machine paths, integration, terraform
	$(PY) -m pytest

lint: setup ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: setup ## format Python and Terraform
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
	terraform fmt -recursive terraform

validate: setup ## ASL checks: asl-validator, moto's parser, placeholders, error names
	$(PY) scripts/validate_asl.py

package: setup ## one deterministic zip per Lambda folder, plus the dependency layer
	$(PY) scripts/package_lambdas.py

run: setup ## the whole state machine locally, on embedded defaults: real MP4s in output/
	$(PY) scripts/run_local.py $(ARGS)

reset: ## forget the local run's state (jobs, counters, S3) and outputs
	rm -rf .local-state output

bench-render: setup ## render benchmark: this renderer against MoviePy; last line is JSON
	$(PY) scripts/bench_render.py $(ARGS)

$(VENV)-tools/.installed: requirements-tools.txt
	$(PYTHON) -m venv $(VENV)-tools
	$(VENV)-tools/bin/pip install -q -r requirements-tools.txt
	touch $@

tools: $(VENV)-tools/.installed ## checkov, in its own venv (its pins clash with the runtime's)

tf-init: ## terraform init (offline from TF_PLUGIN_DIR when set)
	terraform -chdir=terraform init $(TF_INIT_FLAGS)

plan: package tf-init ## terraform plan of the whole stack
	terraform -chdir=terraform plan -out=plan.tfplan

deploy: package tf-init ## package the Lambdas and apply
	terraform -chdir=terraform apply $(if $(AUTO_APPROVE),-auto-approve,)

destroy: package tf-init ## tear everything down (the media bucket must be empty; Terraform reads the zips' hashes)
	terraform -chdir=terraform destroy
