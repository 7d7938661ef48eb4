"""sample_images/make_samples.py is deterministic: regenerating gives the committed ground
truth and the same pixels, and every sample stays under the size budget."""

import json
import subprocess
import sys

import numpy as np
from PIL import Image

from tests.conftest import ROOT, SAMPLES


def test_generator_reproduces_the_committed_samples(tmp_path):
    subprocess.run([sys.executable, str(SAMPLES / "make_samples.py"), str(tmp_path)], check=True,
                   capture_output=True)
    committed = sorted(p.name for p in SAMPLES.glob("*.truth.json"))
    assert sorted(p.name for p in tmp_path.glob("*.truth.json")) == committed
    for name in committed:
        assert json.loads((tmp_path / name).read_text()) == json.loads((SAMPLES / name).read_text()), name
    for name in ("transparent_name.png", "group_photo.jpg"):
        a = np.asarray(Image.open(tmp_path / name)).astype(int)
        b = np.asarray(Image.open(SAMPLES / name)).astype(int)
        assert a.shape == b.shape and np.abs(a - b).mean() < 1.0, name


def test_sample_folder_is_small_and_every_image_has_truth():
    total = sum(p.stat().st_size for p in SAMPLES.iterdir() if p.is_file())
    assert total < 10 * 1024 * 1024
    images = [p for p in SAMPLES.iterdir() if p.suffix in (".jpg", ".png", ".heic")]
    assert len(images) == 10
    for p in images:
        assert (SAMPLES / f"{p.stem}.truth.json").exists()
    assert (ROOT / "sample_images" / "clinic-policy.toml").exists()
