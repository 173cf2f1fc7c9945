# models/models.mk: YOLO-NAS tooling targets, included from the top-level Makefile.
#
#   make setup-models   create .venv-sg (super-gradients 3.7.1 + torch 2.1.2, ~3 GB download) once
#   make parity         nasview vs super-gradients on the bundled photos (needs setup-models and a
#                       release build; uses the shared YOLO-NAS S fixture checkpoint)
#   make setup-ultralytics   create .venv-ul (the real ultralytics package; torch from .venv-sg, ~60 MB more)
#   make parity-ultralytics  nasview vs Ultralytics' own predict() on YOLOv12n FP32 and INT8 (needs `make setup`)
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

.PHONY: setup-models parity setup-ultralytics parity-ultralytics

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

# `nasview detect` vs bare ONNX Runtime (default session options) on the same ONNX files, interleaved; with
# Ultralytics' own predict as a third column when .venv-ul exists (`make setup-ultralytics`).
.PHONY: bench-ort
bench-ort:
	$(MAKE) build
	$(if $(wildcard $(MODELS_UL_STAMP)),$(MODELS_UL_ENV) $(MODELS_UL_PY),.venv/bin/python) models/bench_ort.py --model models/yolov12n.onnx --model models/yolov12n_int8.onnx $(MODELS_BENCH_ORT_ARGS)

# .venv-ul: the real Ultralytics package beside nasview, with onnxruntime 1.32 (the one nasview loads). torch is
# not downloaded a second time: a .pth file appends .venv-sg's site-packages *after* .venv-ul's own, so .venv-ul's
# pins (numpy 1.26, onnxruntime 1.32, opencv 4.11) win and torch 2.1.2 / torchvision come from .venv-sg.
# The .pth is removed while pip runs, so pip installs every pin here instead of finding it in .venv-sg.
MODELS_UL_VENV   ?= .venv-ul
MODELS_UL_PY     := $(MODELS_UL_VENV)/bin/python
MODELS_UL_REQS   := models/requirements-ul.txt
MODELS_UL_STAMP  := $(MODELS_UL_VENV)/.nasview-installed
MODELS_UL_PTH    := nasview-torch-from-venv-sg.pth
MODELS_UL_ARGS   ?=
# Ultralytics installs packages, probes the network and writes ~/.config at run time unless told not to.
MODELS_UL_ENV    := YOLO_AUTOINSTALL=False YOLO_OFFLINE=1 YOLO_VERBOSE=False YOLO_CONFIG_DIR=models/.cache/ultralytics-config

setup-ultralytics: $(MODELS_UL_STAMP)

# Idempotent: nothing runs while the stamp is newer than the pins (.venv-sg is made first when absent).
$(MODELS_UL_STAMP): $(MODELS_UL_REQS) | $(MODELS_SG_STAMP)
	@if [ ! -x $(MODELS_UL_PY) ]; then \
	  echo "setup-ultralytics: creating $(MODELS_UL_VENV) with $(MODELS_PYTHON)"; \
	  $(MODELS_PYTHON) -m venv $(MODELS_UL_VENV); \
	fi
	@echo "setup-ultralytics: installing ultralytics 8.4.190 and onnxruntime 1.32.0 into $(MODELS_UL_VENV) (pip --no-deps -r $(MODELS_UL_REQS); torch is .venv-sg's)"
	@ul_site=$$($(MODELS_UL_PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])") && \
	  sg_site=$$($(MODELS_SG_PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])") && \
	  rm -f "$$ul_site/$(MODELS_UL_PTH)" && \
	  $(MODELS_UL_PY) -m pip install -q --disable-pip-version-check --no-deps -r $(MODELS_UL_REQS) && \
	  $(MODELS_UL_PY) -c "import os, sys; print(os.path.relpath(sys.argv[2], sys.argv[1]))" "$$ul_site" "$$sg_site" > "$$ul_site/$(MODELS_UL_PTH)"
	@echo "setup-ultralytics: checking that ultralytics runs on onnxruntime 1.32 with .venv-sg's torch"
	@$(MODELS_UL_ENV) $(MODELS_UL_PY) -c "import os, numpy, onnxruntime, torch, ultralytics; \
	  assert onnxruntime.__version__ == '1.32.0' and '$(MODELS_UL_VENV)' in onnxruntime.__file__, onnxruntime.__file__; \
	  print('setup-ultralytics: ultralytics', ultralytics.__version__, '/ onnxruntime', onnxruntime.__version__, \
	        '/ torch', torch.__version__, '/ numpy', numpy.__version__)"
	@touch $@

# Ultralytics' own YOLO(model.onnx).predict() vs `nasview detect` on YOLOv12n FP32 and INT8: boxes within 0.05 px.
parity-ultralytics: setup-ultralytics
	$(MAKE) build
	$(MODELS_UL_ENV) $(MODELS_UL_PY) models/ultralytics_parity.py --nasview $(MODELS_NASVIEW) --photos $(MODELS_PHOTOS) $(MODELS_UL_ARGS)
