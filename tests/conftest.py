"""Shared fixtures: the sample images with their ground truth, and one Scrubber per session
(real models, loaded once)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"
CLINIC_POLICY = SAMPLES / "clinic-policy.toml"


def truth(name: str) -> dict:
    stem = Path(name).stem
    return json.loads((SAMPLES / f"{stem}.truth.json").read_text())


def all_truths() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(SAMPLES.glob("*.truth.json"))]


def box_iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


@pytest.fixture(scope="session", autouse=True)
def _no_personal_config(tmp_path_factory):
    """Tests never read or write the developer's own roster in ~/.config."""
    import os

    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))


@pytest.fixture(scope="session")
def clinic_policy():
    from scrubber.policy import Policy

    return Policy.load(CLINIC_POLICY)


@pytest.fixture(scope="session")
def scrubber(clinic_policy):
    from scrubber.pipeline import Scrubber

    return Scrubber(clinic_policy)


@pytest.fixture(scope="session")
def text_detector():
    from scrubber.detect.text_ocr import TesseractText

    return TesseractText()


@pytest.fixture(scope="session")
def yunet():
    from scrubber.detect.faces_yunet import YuNetFaces

    return YuNetFaces()


@pytest.fixture(scope="session")
def dlib_faces():
    from scrubber.detect.faces_dlib import DlibFaces

    return DlibFaces()


def frame_of(name: str):
    from scrubber.imageio import load

    return load(SAMPLES / name).frames[0]


def rgb(name: str) -> np.ndarray:
    return frame_of(name).pixels


needs_browser = pytest.mark.skipif(
    not shutil.which("chromium") or not shutil.which("chromedriver"),
    reason="Debian chromium and chromium-driver are installed by .ci/run")


def browser(downloads: Path | None = None):
    """Debian's Chromium, headless, through Selenium; files it downloads go to ``downloads``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1400,1000", "--allow-file-access-from-files"):
        opts.add_argument(arg)
    if downloads is not None:
        opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                               "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=opts)
    if downloads is not None:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    # a click that submits a form returns before the next page has loaded: every lookup waits
    # for its element (CI once looked for the decision on the page being left, under load)
    driver.implicitly_wait(10)
    return driver


def screenshot(driver, name: str) -> None:
    """Save the page to $SCRUBBER_SCREENSHOTS/name when that is set (``make screenshots``)."""
    import os

    if os.environ.get("SCRUBBER_SCREENSHOTS"):
        driver.save_screenshot(os.path.join(os.environ["SCRUBBER_SCREENSHOTS"], name))
