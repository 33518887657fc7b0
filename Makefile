# win-notifications: developer and CI entry points. `make help` lists them.
#
# Dependencies are locked: uv.lock (written by uv from pyproject.toml) pins every runtime and dev
# package with the hashes of all its files; scripts/requirements-*.txt (compiled by uv from the
# scripts/requirements-*.in beside them) pin the tooling venvs the same way. Nothing installs
# anything the locks do not name. `make lock` after editing pyproject.toml or a .in file;
# `make lock-upgrade` to move to the newest versions the ranges allow (docs/dependencies.md).
#
# Virtualenvs (all under the repo, git-ignored, created on first use, re-installed only when
# their inputs change):
#   .venv-uv        uv itself (pinned with hashes in scripts/requirements-uv.txt), bootstrapped with pip
#   .venv           the project: runtime deps + the `dev` dependency group, exactly uv.lock (`uv sync`)
#   .venv-sam       aws-sam-cli (pins its own boto3/click, so it lives apart)
#   .venv-ministack MiniStack (local AWS on 127.0.0.1) + aws-sam-translator + boto3
#   .venv-iac       checkov, the IaC scanner beside cfn-lint
#
# Lambda artifacts are built by `sam build` through `BuildMethod: makefile`: SAM runs
# `make build-<LogicalId>` with ARTIFACTS_DIR set, in the repo itself (--build-in-source, so SAM
# does not copy the repo and its venvs to a scratch dir). The runtime dependencies go into one
# layer (DependenciesLayer, rule build-DependenciesLayer: under python/, where Lambda and MiniStack
# look); each function's artifact holds only functions/ and shared/ (rule build-%Function).
# Two flavours, picked by BUILD_FLAVOUR (SAM passes its environment on to make):
#   local  wheels for this machine's Python (MiniStack runs Lambdas under its own interpreter);
#          `make build-local` -> .aws-sam/build-local, what `make run` deploys to MiniStack
#   cloud  manylinux2014_aarch64 / cp313 wheels for the python3.13 arm64 runtime;
#          `make build-cloud` (or a bare `sam build`) -> .aws-sam/build, what `sam deploy` ships
# The layer's packages are the runtime part of uv.lock (`uv export`), installed once per flavour
# into .build/deps-<flavour>/ with their hashes checked.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV_UV := .venv-uv
UV := $(VENV_UV)/bin/uv
VENV := .venv
VENV_SAM := .venv-sam
VENV_MS := .venv-ministack
VENV_IAC := .venv-iac
BUILD := .build
SAM := $(VENV_SAM)/bin/sam

export SAM_CLI_TELEMETRY := 0
# uv uses $(PYTHON) (or a venv's own python), never an interpreter it would download; .venv is the
# project environment `uv sync` manages.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

# pip on this kind of machine warns about every missing local index folder; hide just that.
PIP_QUIET := 2>&1 | { grep -v -E "^WARNING: Location 'file:.*' is ignored" || true; }

# ---------------------------------------------------------------------------------------------
# Build flavours
# ---------------------------------------------------------------------------------------------
# A bare `sam build` (no BUILD_FLAVOUR) writes .aws-sam/build, which a bare `sam deploy` ships to
# AWS, so it gets the cloud flavour; `make build-local` / `make run` ask for local explicitly.
BUILD_FLAVOUR ?= cloud
ifeq ($(filter $(BUILD_FLAVOUR),local cloud),)
$(error BUILD_FLAVOUR must be local or cloud, not '$(BUILD_FLAVOUR)')
endif

# The Lambda python3.13 runtime ships boto3/botocore/s3transfer: leave them out of the cloud
# layer unless CLOUD_BUNDLE_BOTO3=1 (e.g. to get a newer boto3 than the runtime's).
CLOUD_BUNDLE_BOTO3 ?= 0
CLOUD_PLATFORM ?= aarch64-manylinux2014
CLOUD_PYTHON_VERSION ?= 3.13
RUNTIME_PROVIDED := boto3 botocore s3transfer

ifeq ($(BUILD_FLAVOUR),cloud)
TARGET_FLAGS := --python-platform $(CLOUD_PLATFORM) --python-version $(CLOUD_PYTHON_VERSION) --only-binary :all:
EXPORT_EXCLUDES := $(if $(filter 1,$(CLOUD_BUNDLE_BOTO3)),,$(addprefix --no-emit-package ,$(RUNTIME_PROVIDED)))
else
TARGET_FLAGS :=
EXPORT_EXCLUDES :=
endif

# The exported requirement list is the cache key: toggling CLOUD_BUNDLE_BOTO3 changes it too.
REQS := $(BUILD)/requirements-$(BUILD_FLAVOUR).txt
DEPS_DIR := $(BUILD)/deps-$(BUILD_FLAVOUR)
DEPS_STAMP := $(DEPS_DIR)/.complete

# ---------------------------------------------------------------------------------------------
# Dashboard (dashboard/: TypeScript + React, built by Vite from dashboard/package-lock.json)
# ---------------------------------------------------------------------------------------------
# `npm ci` installs exactly the lock (re-run only when the lock changes); the build into dashboard/dist is
# redone only when a source file is newer than its stamp. Needs node >= 20.19 and npm (Debian: nodejs npm).
DASHBOARD_SRC := $(shell find dashboard/src dashboard/public -type f 2>/dev/null) dashboard/index.html \
	dashboard/vite.config.ts dashboard/tsconfig.json dashboard/package.json

.PHONY: dashboard dashboard-test
dashboard: dashboard/dist/.built

dashboard/node_modules/.installed: dashboard/package-lock.json
	cd dashboard && npm ci --no-audit --no-fund
	touch $@

dashboard/dist/.built: dashboard/node_modules/.installed $(DASHBOARD_SRC)
	cd dashboard && npm run build
	touch $@

dashboard-test: dashboard/node_modules/.installed
	cd dashboard && npm run api:check && npm run typecheck && npm test

# ---------------------------------------------------------------------------------------------
# Help
# ---------------------------------------------------------------------------------------------
.PHONY: help
help:
	@echo "make run          install what is needed, start MiniStack on 127.0.0.1:\$${MINISTACK_PORT:-4566},"
	@echo "                  deploy the stack (local build), bootstrap a demo account, serve until Ctrl-C"
	@echo "make stack-up     the same, but return once ready (MiniStack pid in .local/ministack.pid)"
	@echo "make stack-down   stop the MiniStack started by stack-up"
	@echo "make deploy-dashboard STACK_NAME=... [AWS_REGION=...]  build the dashboard, upload it and config.json to"
	@echo "                  that stack on AWS, invalidate its CloudFront distribution (scripts/dashboard.py)"
	@echo "make redrive      move the send queues' dead-letter messages back to their queues (local stack;"
	@echo "                  REDRIVE_ARGS='--queue gift --dry-run'); against AWS: docs/reliability.md \"Dead letters\""
	@echo "make build-local  sam build for MiniStack (.aws-sam/build-local)"
	@echo "make build-cloud  sam build for AWS: python3.13 arm64 artifacts (.aws-sam/build)"
	@echo "make validate     sam validate --lint"
	@echo "make lint         ruff check + mypy + import rules + openapi-check + ruff format --check"
	@echo "make openapi      regenerate docs/openapi.json from the code and the dashboard's API types from it"
	@echo "                  (make openapi-check: is the document current?)"
	@echo "make test-unit    pytest tests/unit (no AWS) and tests/integration (moto, loopback fakes), dashboard-test"
	@echo "make dashboard    npm ci + vite build of the dashboard into dashboard/dist (skipped when up to date)"
	@echo "make dashboard-test  the dashboard's generated API types match docs/openapi.json, tsc --noEmit, vitest"
	@echo "make bench        the performance benchmark: throughput and DynamoDB units, artifact sizes and cold imports,"
	@echo "                  latency on a local stack of its own (prints every figure, writes bench/results.json)"
	@echo "make test-e2e     stack-up (with the dashboard built), pytest tests/e2e against it (the browser tests in"
	@echo "                  tests/e2e/dashboard need /usr/bin/chromium and are skipped without it), stack-down"
	@echo "make test-e2e-providers  the stack with GiftProvider=giftishow NotificationProvider=solapi on its own"
	@echo "                  MiniStack (\$${PROVIDERS_MINISTACK_PORT:-4588}) against the Giftishow and Solapi fakes,"
	@echo "                  pytest tests/e2e/providers, then both fakes and MiniStack stopped"
	@echo "make scan-iac     checkov over template.yaml and its CloudFormation translation (IAM roles)"
	@echo "make verify       fault injection (10,000 scenarios, 600 webhook scenarios), model-based test, schemathesis,"
	@echo "                  tenant matrix and log scan on the local stack; writes reliability/results.json (under 40 min)"
	@echo "make verify-bounded  the same with small budgets (part of make test)"
	@echo "make test         lint + test-unit + validate + scan-iac + test-e2e + test-e2e-providers + verify-bounded"
	@echo "                  (what .ci/run runs)"
	@echo "make venv         create/refresh the project venv (.venv) from uv.lock"
	@echo "make lock         re-lock after editing pyproject.toml or scripts/requirements-*.in"
	@echo "make lock-upgrade re-lock everything at the newest versions the ranges allow"
	@echo "make clean        remove build output (.aws-sam, .build); venvs stay"

# ---------------------------------------------------------------------------------------------
# Virtualenvs
# ---------------------------------------------------------------------------------------------
.PHONY: venv venv-sam venv-ministack venv-iac
venv: $(VENV)/.installed
venv-sam: $(VENV_SAM)/.installed
venv-ministack: $(VENV_MS)/.installed
venv-iac: $(VENV_IAC)/.installed

# uv is the one thing pip installs (hash-checked); everything else is installed by uv from a lock.
$(UV): scripts/requirements-uv.txt
	@test -x $(VENV_UV)/bin/python || $(PYTHON) -m venv $(VENV_UV)
	@echo "==> installing uv into $(VENV_UV)"
	$(VENV_UV)/bin/python -m pip install -q --root-user-action=ignore --require-hashes -r scripts/requirements-uv.txt $(PIP_QUIET)
	@touch $@

# --locked: fail, rather than re-resolve, when uv.lock no longer matches pyproject.toml.
$(VENV)/.installed: pyproject.toml uv.lock $(UV)
	@echo "==> installing project deps into $(VENV) (uv.lock)"
	$(UV) sync --locked --python $(PYTHON) --quiet
	@touch $@

# A tooling venv installed exactly from its compiled, hash-pinned requirements file.
define tool_venv
	@test -x $(1)/bin/python || $(UV) venv --quiet --python $(PYTHON) $(1)
	@echo "==> installing $(2) into $(1)"
	$(UV) pip sync --quiet --require-hashes --python $(1)/bin/python $(2)
	@touch $(1)/.installed
endef

$(VENV_SAM)/.installed: scripts/requirements-sam.txt $(UV)
	$(call tool_venv,$(VENV_SAM),scripts/requirements-sam.txt)

$(VENV_MS)/.installed: scripts/requirements-ministack.txt $(UV)
	$(call tool_venv,$(VENV_MS),scripts/requirements-ministack.txt)

$(VENV_IAC)/.installed: scripts/requirements-iac.txt $(UV)
	$(call tool_venv,$(VENV_IAC),scripts/requirements-iac.txt)

# Re-lock. `make lock` keeps every pin that still satisfies its range; `make lock-upgrade` takes
# the newest allowed versions (one package: `.venv-uv/bin/uv lock --upgrade-package NAME`).
# The tooling pins are resolved for every platform (--universal) on the project's Python.
TOOLS_PYTHON_VERSION := 3.11
TOOL_LOCKS := $(patsubst %.in,%.txt,$(wildcard scripts/requirements-*.in))
LOCK_UPGRADE :=

.PHONY: lock lock-upgrade
lock: $(UV)
	$(UV) lock --python $(PYTHON) $(LOCK_UPGRADE)
	@for src in $(TOOL_LOCKS:.txt=.in); do \
		echo "$(UV) pip compile $$src"; \
		$(UV) pip compile --quiet --universal --python-version $(TOOLS_PYTHON_VERSION) --generate-hashes $(LOCK_UPGRADE) \
			--custom-compile-command "make lock" $$src -o $${src%.in}.txt; \
	done

lock-upgrade:
	@$(MAKE) lock LOCK_UPGRADE=--upgrade

# ---------------------------------------------------------------------------------------------
# Lambda dependencies (once per flavour) and artifacts
# ---------------------------------------------------------------------------------------------
# The runtime part of uv.lock (no dev group) with its hashes; rewritten only when it really
# changes, so editing other parts of pyproject.toml does not reinstall the Lambda deps.
$(REQS): pyproject.toml uv.lock $(UV)
	@mkdir -p $(BUILD)
	@$(UV) export --quiet --locked --no-dev --no-emit-project --format requirements-txt $(EXPORT_EXCLUDES) -o $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

# --no-deps: the export is the complete list (the cloud one minus what the runtime provides).
# Console scripts (bin/) are of no use in Lambda and their shebangs name this build's paths: they go,
# with their RECORD lines, so two builds of one commit give the same files.
$(DEPS_STAMP): $(REQS)
	@echo "==> installing Lambda deps ($(BUILD_FLAVOUR)) into $(DEPS_DIR)"
	@rm -rf $(DEPS_DIR).tmp
	$(UV) pip install --quiet --no-deps --require-hashes --no-compile --python $(PYTHON) $(TARGET_FLAGS) \
		--target $(DEPS_DIR).tmp -r $(REQS)
	@rm -rf $(DEPS_DIR).tmp/bin
	@sed -i.orig '/^bin\//d' $(DEPS_DIR).tmp/*.dist-info/RECORD && rm -f $(DEPS_DIR).tmp/*.dist-info/RECORD.orig
	@find $(DEPS_DIR).tmp -name __pycache__ -type d -prune -exec rm -rf {} +
	@rm -rf $(DEPS_DIR) && mv $(DEPS_DIR).tmp $(DEPS_DIR)
	@touch $@

.PHONY: deps
deps: $(DEPS_STAMP)

define require_artifacts_dir
	@if [ -z "$${ARTIFACTS_DIR:-}" ]; then \
		echo "ARTIFACTS_DIR is not set: this target is run by sam build (make build-local/build-cloud)" >&2; \
		exit 1; fi
endef

# The layer every function uses (template.yaml DependenciesLayer): the runtime deps under python/.
build-DependenciesLayer: $(DEPS_STAMP)
	$(require_artifacts_dir)
	@echo "==> $@ ($(BUILD_FLAVOUR)) -> $(ARTIFACTS_DIR)"
	@mkdir -p "$(ARTIFACTS_DIR)/python"
	@cp -a $(DEPS_DIR)/. "$(ARTIFACTS_DIR)/python/"
	@rm -f "$(ARTIFACTS_DIR)/python/.complete"

# Called by `sam build` for every function whose Metadata says `BuildMethod: makefile`: the
# service's own code only. (SAM builds functions with identical build settings once and shares
# the artifact.)
build-%Function:
	$(require_artifacts_dir)
	@echo "==> $@ ($(BUILD_FLAVOUR)) -> $(ARTIFACTS_DIR)"
	@mkdir -p "$(ARTIFACTS_DIR)"
	@tar -c --exclude=__pycache__ --exclude='*.py[cod]' --exclude=tests --exclude='.*_cache' \
		functions shared | tar -x -C "$(ARTIFACTS_DIR)"

.PHONY: build-local build-cloud
build-local: $(VENV_SAM)/.installed
	@$(MAKE) deps BUILD_FLAVOUR=local
	BUILD_FLAVOUR=local $(SAM) build --build-in-source --build-dir .aws-sam/build-local

build-cloud: $(VENV_SAM)/.installed
	@$(MAKE) deps BUILD_FLAVOUR=cloud
	BUILD_FLAVOUR=cloud $(SAM) build --build-in-source --build-dir .aws-sam/build

# ---------------------------------------------------------------------------------------------
# Local stack (MiniStack)
# ---------------------------------------------------------------------------------------------
# scripts/local_stack.py; the MiniStack process itself: scripts/ministack_server.py (the benchmark's too).
LOCAL_STACK := $(VENV_MS)/bin/python -m scripts.local_stack

.PHONY: run stack-up stack-down dashboard-if-present deploy-dashboard
run: build-local dashboard-if-present $(VENV_MS)/.installed
	@$(LOCAL_STACK) run

stack-up: build-local dashboard-if-present $(VENV_MS)/.installed
	@$(LOCAL_STACK) up

# The stack serves dashboard/dist (the `dashboard` target builds it) once the app is in the tree.
dashboard-if-present:
	@if [ -f dashboard/package.json ]; then $(MAKE) dashboard; \
	else echo "==> no dashboard/package.json: the stack serves only config.json"; fi

# A stack on AWS (sam deploy first): the build and config.json into its DashboardBucket, then a CloudFront
# invalidation. Uses the ordinary AWS credentials of the shell.
deploy-dashboard: $(VENV)/.installed
	@test -n "$${STACK_NAME:-}" || { echo "usage: make deploy-dashboard STACK_NAME=win-notifications [AWS_REGION=ap-northeast-2]" >&2; exit 1; }
	@$(MAKE) dashboard
	$(VENV)/bin/python -m scripts.dashboard deploy --stack-name "$$STACK_NAME" $${AWS_REGION:+--region "$$AWS_REGION"}

stack-down:
	@$(if $(wildcard $(VENV_MS)/bin/python),$(VENV_MS)/bin/python,$(PYTHON)) -m scripts.local_stack down

# scripts/redrive.py against the running local stack: .local/stack.env names the queues and the MiniStack
# endpoint, as it does for the e2e suite. REDRIVE_ARGS: --queue gift|notification|all, --dry-run.
REDRIVE_ARGS ?=
.PHONY: redrive
redrive: $(VENV)/.installed
	@test -f .local/stack.env || { echo "no .local/stack.env: start the local stack first (make stack-up)" >&2; exit 1; }
	$(VENV)/bin/python -m scripts.redrive --stack-env .local/stack.env $(REDRIVE_ARGS)

# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------
.PHONY: validate scan-iac lint test-unit test-e2e test-e2e-providers test verify verify-bounded
validate: $(VENV_SAM)/.installed
	$(SAM) validate --lint

# checkov sees SAM's generated IAM roles only in the translated template; reviewed exceptions: .checkov.yaml
# and the functions' Metadata.checkov.
scan-iac: $(VENV_SAM)/.installed $(VENV_IAC)/.installed
	@mkdir -p $(BUILD)
	@$(VENV_SAM)/bin/python scripts/translate_template.py $(BUILD)/template-cfn.json 2>&1 | { grep -v "Feature Toggle" || true; }
	$(VENV_IAC)/bin/checkov --config-file .checkov.yaml -f template.yaml -f $(BUILD)/template-cfn.json

PY_DIRS := shared functions tests scripts bench reliability

# lint-imports: the import rules of pyproject.toml [tool.importlinter] (the domain imports no adapter, AWS SDK or
# settings; layers; no import circles).
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check $(PY_DIRS)
	$(VENV)/bin/mypy $(PY_DIRS)
	$(VENV)/bin/lint-imports --no-cache
	@$(MAKE) openapi-check
	$(VENV)/bin/ruff format --check --output-format concise $(PY_DIRS)

# docs/openapi.json: the document GET /swagger?format=json serves, generated from the code (scripts/openapi.py).
.PHONY: openapi openapi-check
openapi: $(VENV)/.installed dashboard/node_modules/.installed
	$(VENV)/bin/python -m scripts.openapi
	cd dashboard && npm run api:types

openapi-check: $(VENV)/.installed
	$(VENV)/bin/python -m scripts.openapi --check

# pytest exits 5 when it collects nothing; an empty suite is not a failure here.
PYTEST_OK_IF_EMPTY := rc=$$?; if [ $$rc -eq 5 ]; then echo "(no tests collected)"; rc=0; fi; exit $$rc

test-unit: $(VENV)/.installed dashboard-test
	@$(VENV)/bin/python -m pytest -n 2 tests/unit tests/integration || { $(PYTEST_OK_IF_EMPTY); }

test-e2e: $(VENV)/.installed
	@$(MAKE) stack-up
	@rc=0; ( set -a; . .local/stack.env; set +a; $(VENV)/bin/python -m pytest tests/e2e --ignore tests/e2e/providers ) || rc=$$?; \
		$(MAKE) stack-down || true; \
		if [ $$rc -eq 5 ]; then echo "(no e2e tests collected)"; rc=0; fi; exit $$rc

# tests/e2e/providers/stack.py: both provider fakes as processes on free loopback ports, the providers' secrets and a
# deploy with their parameters on a MiniStack of its own (state in .local/providers), so it never meets `make stack-up`.
PROVIDERS_MINISTACK_PORT ?= 4588
PROVIDERS_STATE := .local/providers
PROVIDERS_STACK := MINISTACK_PORT=$(PROVIDERS_MINISTACK_PORT) LOCAL_STACK_DIR=$(PROVIDERS_STATE) \
	$(VENV)/bin/python -m tests.e2e.providers.stack

test-e2e-providers: build-local $(VENV)/.installed $(VENV_MS)/.installed
	@rc=0; $(PROVIDERS_STACK) up || rc=$$?; \
		if [ $$rc -eq 0 ]; then \
			WN_STACK_ENV=$(PROVIDERS_STATE)/stack.env $(VENV)/bin/python -m pytest tests/e2e/providers || rc=$$?; \
		fi; \
		$(PROVIDERS_STACK) down || true; \
		exit $$rc

test: lint test-unit validate scan-iac test-e2e test-e2e-providers verify-bounded

# reliability/verify.py starts (and stops) the local stack itself; figures in reliability/results.json.
VERIFY_ARGS ?=
verify: $(VENV)/.installed $(VENV_SAM)/.installed $(VENV_MS)/.installed
	$(VENV)/bin/python -m reliability.verify $(VERIFY_ARGS)

verify-bounded: $(VENV)/.installed $(VENV_SAM)/.installed $(VENV_MS)/.installed
	$(VENV)/bin/python -m reliability.verify --scenarios 600 --webhook-scenarios 120 --model-examples 30 --model-steps 15 \
		--fuzz-examples 5 --output reliability/results-bounded.json

BENCH_RECIPIENTS ?= 10000

# The performance benchmark: throughput and DynamoDB units (bench/run.py: 10,000-recipient gift and notification
# sends on a private MiniStack, BENCH_MINISTACK_PORT), then artifact sizes and cold imports (bench/package.py), then
# latency on a deployed local stack of its own (bench/latency.py: MiniStack on BENCH_STACK_PORT, state in
# .local/bench-stack, stopped afterwards). All figures go into bench/results.json.
BENCH_STACK_PORT ?= 4597
BENCH_STACK_STATE := .local/bench-stack
BENCH_STACK := MINISTACK_PORT=$(BENCH_STACK_PORT) LOCAL_STACK_DIR=$(BENCH_STACK_STATE) LOG_LEVEL=WARNING \
	MINISTACK_LOG_LEVEL=WARNING $(LOCAL_STACK)
.PHONY: bench bench-throughput bench-package bench-latency
bench: build-local $(VENV)/.installed $(VENV_MS)/.installed
	@$(MAKE) bench-throughput
	@$(MAKE) bench-package
	@$(MAKE) bench-latency

bench-throughput: $(VENV)/.installed $(VENV_MS)/.installed
	$(VENV)/bin/python -W ignore -m bench.run $(BENCH_RECIPIENTS)

bench-package: $(VENV)/.installed
	$(VENV)/bin/python -m bench.package

bench-latency: build-local $(VENV)/.installed $(VENV_MS)/.installed
	@mkdir -p $(BENCH_STACK_STATE)
	@rc=0; $(BENCH_STACK) up > $(BENCH_STACK_STATE)/up.log 2>&1 || { rc=$$?; tail -20 $(BENCH_STACK_STATE)/up.log; }; \
		if [ $$rc -eq 0 ]; then $(VENV)/bin/python -m bench.latency $(BENCH_STACK_STATE)/stack.env || rc=$$?; fi; \
		$(BENCH_STACK) down || true; \
		exit $$rc

.PHONY: clean
clean:
	rm -rf .aws-sam $(BUILD)
