"""The PP-OCR line detector run directly (scrubber.detect.textlines) on real images."""

from pathlib import Path

import numpy as np

import scrubber

from scrubber.detect.textlines import LineDetector, _clockwise, model_path
from tests.conftest import rgb, truth


def test_model_ships_inside_the_package():
    path = model_path()
    assert path.suffix == ".onnx" and path.parent.name == "models" and path.stat().st_size > 1_000_000
    assert path.is_relative_to(Path(scrubber.__file__).parent)


def test_finds_the_chart_lines_as_clockwise_quads():
    px = rgb("clipboard_chart.jpg")
    lines = LineDetector()(px)
    assert len(lines) >= 8
    for quad, score in lines:
        assert 0.5 <= score <= 1.0
        tl, tr, br, bl = quad
        assert tl[0] < tr[0] and bl[0] < br[0] and tl[1] < bl[1] and tr[1] < br[1]
        assert (quad[:, 0] <= px.shape[1]).all() and (quad[:, 1] <= px.shape[0]).all()
    # every labelled identifier on the chart lies inside some line
    for ident in truth("clipboard_chart.jpg")["identifiers"]:
        x0, y0, x1, y1 = ident["box"]
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        assert any(q[:, 0].min() <= cx <= q[:, 0].max() and q[:, 1].min() <= cy <= q[:, 1].max()
                   for q, _ in lines), ident["label"]


def test_nothing_in_a_plain_wall():
    assert LineDetector()(np.full((480, 640, 3), 180, np.uint8)) == []


def test_corner_order():
    pts = np.float32([[10, 30], [50, 0], [60, 20], [0, 10]])
    assert _clockwise(pts).tolist() == [[0, 10], [50, 0], [60, 20], [10, 30]]
