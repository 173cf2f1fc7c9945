# nasview: set-up, run and test. `make run` and `make test` each run the idempotent `make setup` first.
#   make run ARGS="--source demo"     the live window (any nasview arguments in ARGS)
#   make test                         unit, integration and real-window tests
#   make install [PREFIX=/usr/local]  the binary, its man pages and shell completions (after `make setup`)
SHELL := /bin/bash
.DEFAULT_GOAL := run

VENV      := .venv
PY        := $(VENV)/bin/python
BIN       := target/release/nasview
ARGS      ?=
PREFIX    ?= /usr/local
DESTDIR   ?=
# Man pages and completion scripts, made from the binary's own command line by `make build`.
GEN       ?= target/generated
# apt packages: build (libclang for nokhwa's and FFmpeg's bindgen, nasm for libjpeg-turbo's SIMD MJPEG decoder,
# python venv, FFmpeg's libraries that every video, stream and screen source is read through), window (X11 libs),
# tests (Xvfb, xdotool, screenshots, the ffmpeg CLI, GStreamer's RTSP server through python3-gi).
APT_PACKAGES := libclang-dev nasm python3-venv python3-pip pkg-config libx11-6 libxcursor1 libxrandr2 libxi6 \
                libavformat-dev libavcodec-dev libavfilter-dev libavdevice-dev libswscale-dev libavutil-dev \
                xvfb x11-apps imagemagick xdotool ffmpeg \
                python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-base \
                gstreamer1.0-plugins-good gstreamer1.0-plugins-bad mosquitto mosquitto-clients

.PHONY: setup setup-apt setup-venv setup-models-default build docs install install-files uninstall run test lint \
        bench-display detect-photos bench soak gpu-check clean
setup: setup-apt setup-venv setup-models-default build

# Installs only what is missing, and says what it installs.
setup-apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing apt packages:$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v cargo >/dev/null || { echo "setup: cargo not found: install Rust 1.87 or newer (https://rustup.rs), then run make again"; exit 1; }

# The runtime venv: ONNX Runtime's shared library (the app loads it) and the model scripts' packages.
setup-venv: $(VENV)/.stamp
$(VENV)/.stamp: models/requirements.txt
	@echo "setup: creating $(VENV) with ONNX Runtime (models/requirements.txt)"
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r models/requirements.txt
	@touch $@

# The default model: YOLOv12n fetched and verified, then its INT8 version made by our own quantizer.
setup-models-default: models/yolov12n.onnx models/yolov12n_int8.onnx
models/yolov12n.onnx: models/fetch_yolov12n.py | $(VENV)/.stamp
	$(PY) models/fetch_yolov12n.py --out $@
models/yolov12n_int8.onnx: models/yolov12n.onnx models/quantize.py | $(VENV)/.stamp
	$(PY) models/quantize.py models/yolov12n.onnx --out $@ --calib assets/photos --force

build:
	cargo build --release
	@$(MAKE) --no-print-directory docs

# nasview.1 and one page per command, and completions for bash, zsh, fish and PowerShell.
docs:
	@$(BIN) manpage $(GEN)/man
	@mkdir -p $(GEN)/completions
	@$(BIN) completions bash > $(GEN)/completions/nasview.bash
	@$(BIN) completions zsh > $(GEN)/completions/_nasview
	@$(BIN) completions fish > $(GEN)/completions/nasview.fish
	@$(BIN) completions powershell > $(GEN)/completions/nasview.ps1

# The installed binary still loads ONNX Runtime and finds its default model through this checkout (`make setup`
# put them here), or through $$ORT_DYLIB_PATH / --ort-lib and $$NASVIEW_MODEL / --model.
install: build
	@$(MAKE) --no-print-directory install-files

install-files: docs
	install -Dm755 $(BIN) $(DESTDIR)$(PREFIX)/bin/nasview
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m644 $(GEN)/man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -Dm644 $(GEN)/completions/nasview.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/nasview
	install -Dm644 $(GEN)/completions/_nasview $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_nasview
	install -Dm644 $(GEN)/completions/nasview.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/nasview.fish
	install -Dm644 $(GEN)/completions/nasview.ps1 $(DESTDIR)$(PREFIX)/share/nasview/completions/nasview.ps1
	@echo "installed nasview under $(DESTDIR)$(PREFIX) (PowerShell: add '. $(PREFIX)/share/nasview/completions/nasview.ps1' to your \$$PROFILE)"

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/nasview $(DESTDIR)$(PREFIX)/share/man/man1/nasview*.1 \
	      $(DESTDIR)$(PREFIX)/share/bash-completion/completions/nasview \
	      $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_nasview \
	      $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/nasview.fish
	rm -rf $(DESTDIR)$(PREFIX)/share/nasview

run: setup
	$(BIN) $(ARGS)

test: setup
	cargo test --release

lint:
	cargo fmt --check
	cargo clippy --release --all-targets -- -D warnings
	python3 tests/module_cycles.py src

# Window display modes (every frame vs processed, recording off/on) interleaved under Xvfb: rates and box IoU.
bench-display: setup
	$(PY) tests/display_modes.py $(ARGS)

# FP32 vs INT8 of the default model, interleaved on the demo clip (`nasview bench --help`).
bench: setup
	$(BIN) bench --model models/yolov12n.onnx --model models/yolov12n_int8.onnx $(ARGS)

# Ten minutes of the demo at full speed with recording on; RSS, frames and the file's duration.
soak: setup
	SOAK_SECONDS=600 cargo test --release --test integration soak -- --nocapture

# For a machine with an NVIDIA GPU: GPU build of ONNX Runtime, then CPU / CUDA / TensorRT in one table.
gpu-check: setup-apt
	tests/gpu-check.sh

detect-photos: setup
	$(BIN) detect assets/photos --out out/

clean:
	cargo clean
	rm -rf $(VENV) models/.cache out

-include models/models.mk
