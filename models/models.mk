# models/models.mk: YOLO-NAS tooling targets, included from the top-level Makefile.
#
#   make setup-models   create .venv-sg (super-gradients 3.7.1 + torch 2.1.2, ~3 GB download) once
#   make parity         nasview vs super-gradients on the bundled photos (needs setup-models and a
#                       release build; uses the shared YOLO-NAS S fixture checkpoint)
#
# Every variable here starts with MODELS_ so it cannot clash with the including Makefile's.
# Override on the command line, e.g. `make parity MODELS_WEIGHTS=my_yolo_nas_s.pth`.

MODELS_PYTHON    ?= python3.11
MODELS_SG_VENV   ?= .venv-sg
MODELS_SG_PY     := $(MODELS_SG_VENV)/bin/python
MODELS_SG_REQS   := models/requirements-sg.txt
MODELS_SG_STAMP  := $(MODELS_SG_VENV)/.nasview-installed
MODELS_WEIGHTS   ?= $(firstword $(wildcard ../shared/fixtures/yolo_nas/yolo_nas_s_fixture.pth) \
                      /work/shared/fixtures/yolo_nas/yolo_nas_s_fixture.pth)
MODELS_NASVIEW   ?= target/release/nasview
MODELS_PHOTOS    ?= assets/photos
MODELS_PARITY_ARGS ?=

.PHONY: setup-models parity

setup-models: $(MODELS_SG_STAMP)

# Idempotent: the stamp is newer than the requirements once the install has succeeded.
$(MODELS_SG_STAMP): $(MODELS_SG_REQS)
	@command -v $(MODELS_PYTHON) >/dev/null || { echo "setup-models: $(MODELS_PYTHON) not found; super-gradients 3.7.1 needs Python 3.11 (set MODELS_PYTHON=...)"; exit 1; }
	@if [ ! -x $(MODELS_SG_PY) ]; then \
	  echo "setup-models: creating $(MODELS_SG_VENV) with $(MODELS_PYTHON)"; \
	  $(MODELS_PYTHON) -m venv $(MODELS_SG_VENV); \
	fi
	@echo "setup-models: installing super-gradients 3.7.1 and its pinned set into $(MODELS_SG_VENV) (pip --no-deps -r $(MODELS_SG_REQS); first time ~3 GB)"
	$(MODELS_SG_PY) -m pip install -q --disable-pip-version-check --no-deps -r $(MODELS_SG_REQS)
	@echo "setup-models: checking that super-gradients imports"
	@CRASH_HANDLER=FALSE UPLOAD_LOGS=FALSE CONSOLE_LOG_LEVEL=ERROR SUPER_GRADIENTS_LOG_DIR=$${TMPDIR:-/tmp}/nasview-sg-logs \
	  $(MODELS_SG_PY) -c "import super_gradients, torch; print('setup-models: super-gradients', super_gradients.__version__, '/ torch', torch.__version__)"
	@touch $@

parity: setup-models
	$(MAKE) build
	$(MODELS_SG_PY) models/parity.py --weights $(MODELS_WEIGHTS) --nasview $(MODELS_NASVIEW) --photos $(MODELS_PHOTOS) $(MODELS_PARITY_ARGS)

# super-gradients' predict (torch, CPU) vs nasview bench on the same YOLO-NAS S weights and photos.
.PHONY: bench-peer
bench-peer: setup-models
	$(MAKE) build
	$(MODELS_SG_PY) models/bench_peer.py --weights $(MODELS_WEIGHTS) --nasview $(MODELS_NASVIEW)

# `nasview detect` vs bare ONNX Runtime (default session options) on the same ONNX files, interleaved.
.PHONY: bench-ort
bench-ort:
	$(MAKE) build
	.venv/bin/python models/bench_ort.py --model models/yolov12n.onnx --model models/yolov12n_int8.onnx $(MODELS_BENCH_ORT_ARGS)
