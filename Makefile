# Two commands set everything up on a fresh Debian/Ubuntu machine:
#   make demo   - install what is missing, start everything, run a sample to the end
#   make test   - install what is missing, run the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEB_PACKAGES := redis-server wrk mono-devel chromium chromium-driver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo demo-lab demo-service test bench system venv dist clean

system:
	@missing=""; for p in $(DEB_PACKAGES) python3-venv; do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
	  || { echo "Could not install$$missing; tests needing them will be skipped"; }; \
	fi

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

venv: $(VENV)/.installed

test: system venv
	$(PY) -m pytest -n 3 --dist loadfile

# KEEP=1 leaves the stack running until Ctrl-C, so the printed commands can be tried
DEMO_FLAGS := $(if $(KEEP),--keep)

demo: system venv
	@$(PY) scripts/demo_workflow.py $(DEMO_FLAGS)

demo-lab: system venv
	@$(PY) scripts/demo_workflow.py --example lab_pipeline $(DEMO_FLAGS)

demo-service: system venv
	$(PY) scripts/demo_service.py

# The template's core as a wheel of its own (runtime dependencies only), for services outside this repository:
#   pip install --find-links <this repo>/dist -r requirements.txt   (in a copy of templates/concurrent)
dist: venv
	rm -rf packages/taskservice/build packages/taskservice/*.egg-info
	$(PY) -m pip wheel -q --no-deps --no-build-isolation -w dist packages/taskservice
	rm -rf packages/taskservice/build packages/taskservice/*.egg-info
	@ls dist/taskservice-*.whl

bench: system venv
	$(PY) bench/service.py

clean:
	rm -rf $(VENV) build dist *.egg-info
