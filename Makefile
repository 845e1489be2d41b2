# edgelite: `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# A second venv with numpy 1.26: the runtime must work with numpy 1.26 and 2.x.
NP1 := .venv-np1
NP1_STAMP := $(NP1)/.installed-stamp

.PHONY: demo test test-all lint fuzz schema build bench clean zoo

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "setuptools>=77" wheel "Cython>=3.0" "numpy>=1.26"
	$(PY) -m pip install -q --no-build-isolation -e '.[dev]'
	# tf_keras (legacy Keras 2) gives the fused-LSTM test models; it pins `tensorflow`,
	# which tensorflow-cpu already provides, hence --no-deps.
	$(PY) -m pip install -q --no-deps tf-keras==2.21.0
	# tensorflow-model-optimization (QAT test models) would replace tensorflow-cpu with
	# the GPU `tensorflow` wheel and downgrade absl-py: install it without its deps.
	$(PY) -m pip install -q --no-deps tensorflow-model-optimization==0.8.1 dm-tree==0.1.10 attrs
	touch $(STAMP)

$(NP1_STAMP):
	test -x $(NP1)/bin/python || $(PYTHON) -m venv $(NP1)
	$(NP1)/bin/python -m pip install -q "numpy==1.26.4" "flatbuffers>=24.3.25"
	touch $(NP1_STAMP)

# Rebuild the Cython extensions in place (fast when nothing changed).
build: $(STAMP)
	$(PY) setup.py -q build_ext --inplace

demo: build
	$(PY) demos/demo.py

test: build $(NP1_STAMP)
	$(PY) -m pytest -q -m "not slow"

test-all: build $(NP1_STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/cython-lint --max-line-length 100 edgelite
	$(VENV)/bin/mypy

# Long fuzz run of the model verifier (make test runs a short one).
fuzz: build
	EDGELITE_FUZZ_CASES=20000 $(PY) -m pytest -q tests/test_fuzz.py

# Regenerate edgelite/schema/generated/ from edgelite/schema/tflite.fbs.
schema: $(STAMP)
	$(PY) tools/gen_schema.py

# Build the cached test-model zoo (official-converter models, real models).
zoo: build
	$(PY) -m tests.zoo

bench: build
	$(PY) bench/run_all.py

clean:
	rm -rf build $(VENV) $(NP1) .cache .pytest_cache
	find edgelite -name '*.so' -delete -o -name '*.c' -path '*edgelite*' -delete
