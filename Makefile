# por: one command to set up and run the demo, one to set up and run the tests.
#   make demo   - a whole monthly Proof-of-Reserves round on a synthetic exchange
#   make test   - every test (Python and Rust), with everything the tests need installed first
SHELL := /bin/bash
PY    ?= python3
VENV  := .venv
VPY   := $(VENV)/bin/python
VPIP  := $(VENV)/bin/pip
export PATH := $(CURDIR)/$(VENV)/bin:$(HOME)/.cargo/bin:$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
export PYTHONUNBUFFERED := 1

RUST_SRC := $(shell find rust/src -name '*.rs') rust/Cargo.toml rust/Cargo.lock
CORE_SO  := $(VENV)/.core-built

.PHONY: all setup build demo test test-py test-rust bench clean system-deps

all: build

# --- environment ----------------------------------------------------------------
$(VENV)/.deps: requirements.lock pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPIP) install -q --upgrade pip
	$(VPIP) install -q -r requirements.lock
	touch $@

setup: $(VENV)/.deps system-deps

# Debian packages the tests use (installed only when missing; needs root, as on CI).
system-deps:
	@bash scripts/system-deps.sh

# --- the Rust extension por._core (release build) --------------------------------
$(CORE_SO): $(VENV)/.deps $(RUST_SRC)
	cd $(CURDIR) && $(VENV)/bin/maturin develop --release --locked -q
	touch $@

build: $(CORE_SO)

# --- the main job -----------------------------------------------------------------
demo: build system-deps
	@bash scripts/demo.sh

# --- tests ------------------------------------------------------------------------
test: setup build test-rust test-py

test-rust:
	cd rust && cargo test --release --locked -q

test-py: build
	$(VPY) -m pytest -q -n 2 --dist loadfile tests

bench: build
	@for b in bench/*.py; do echo "== $$b"; $(VPY) $$b; done

clean:
	rm -rf $(VENV) rust/target build dist
