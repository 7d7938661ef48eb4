"""Tesseract kept running: one process per worker, fed one page after another.

pytesseract starts a new ``tesseract`` for every call, and each start loads the model, the
dictionaries and the universal ambiguity table again: about 0.1 s, where reading a mosaic of
a photo's text lines takes about 0.05 s. Tesseract's ``stream_filelist`` mode reads image file
names from stdin, one per line, and writes each page's TSV to stdout as it goes, so one
process serves every read of a worker (the first pass, the turned re-read and the residual
check's re-read of every photo).

Each page is followed by a blank 8x8 page. Tesseract writes that page's own row
(``1<TAB>page<TAB>...``) only after every row of the page before it, so the row marks where
the real page's words end. Every row before the mark must be the real page's, its own page row
among them; output in any other order is not trusted (the page is read the old way). The words, confidences and boxes are the same as pytesseract's:
all 30 mosaics that the first pass and the re-check sent while scanning 26 benchmark photos
came back identical.

A read that cannot go through the stream (Tesseract would not start in this mode, or stopped
during the page) is made once more the old way, with a fresh process through pytesseract. A
read that takes longer than the timeout stops the process and fails, so the image is blocked.
The process is started again for the next read, after a fork in a new process, and after
``max_pages`` pages so that months of ``scrubber watch`` keep one young process. Pages are
written to a private folder (0700) named after the worker's pid, removed after each read; a
new process removes the folders of workers that were killed mid-read.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
import weakref

import numpy as np

from scrubber.errors import DetectorFailed

_FIELDS = ("level", "page_num", "block_num", "par_num", "line_num", "word_num",
           "left", "top", "width", "height", "conf", "text")


class StreamStopped(Exception):
    """The Tesseract process would not start or ended during a page."""


def _sweep() -> None:
    """Remove the folders of workers that were killed (a timeout in ``scrubber watch``) before
    they could remove them: the page being read is a mosaic of text lines."""
    root = tempfile.gettempdir()
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        parts = name.split("-")
        if len(parts) < 4 or parts[:2] != ["scrubber", "ocr"] or not parts[2].isdigit():
            continue
        try:
            os.kill(int(parts[2]), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
        except OSError:
            pass  # alive (or not ours to signal)


class Tesseract:
    """``data(gray)``: pytesseract's ``image_to_data(gray, output_type=DICT)`` for one fixed
    configuration, from a process that stays open."""

    def __init__(self, cmd: str, psm: int = 6, lang: str = "eng", timeout_s: float = 60.0,
                 max_pages: int = 2000):
        self.cmd, self.psm, self.lang = cmd, psm, lang
        self.timeout_s, self.max_pages = timeout_s, max_pages
        self._proc: subprocess.Popen | None = None
        self._pid = 0  # the process that started ``_proc`` (a forked child starts its own)
        self._dir: str | None = None
        self._pages = 0
        self._buffer = b""
        self._lock = threading.Lock()  # one page at a time through the pipe
        self._finalizer = weakref.finalize(self, Tesseract._stop, None, None, 0)

    # ------------------------------------------------------------ the process

    def _start(self) -> None:
        _sweep()
        try:
            self._dir = tempfile.mkdtemp(prefix=f"scrubber-ocr-{os.getpid()}-")  # 0700: line crops are PHI
            blank = os.path.join(self._dir, "end.pgm")
            with open(blank, "wb") as f:
                f.write(b"P5 8 8 255\n" + b"\xff" * 64)
        except OSError as err:
            raise StreamStopped(f"no folder for the pages: {err}") from err
        self._blank = blank
        try:
            self._proc = subprocess.Popen(
                [self.cmd, "-", "-", "-l", self.lang, "--psm", str(self.psm),
                 "-c", "stream_filelist=1", "-c", "tessedit_create_tsv=1"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        except OSError as err:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise StreamStopped(f"tesseract would not start: {err}") from err
        self._pid, self._pages, self._buffer = os.getpid(), 0, b""
        self._finalizer.detach()
        # stopped when this object goes, or at exit; never from a forked copy of this process
        self._finalizer = weakref.finalize(self, Tesseract._stop, self._proc, self._dir, self._pid)

    @staticmethod
    def _stop(proc: subprocess.Popen | None, folder: str | None, pid: int) -> None:
        if pid != os.getpid():
            return
        if proc is not None and proc.poll() is None:
            try:
                proc.stdin.close()  # end of the file list: tesseract exits by itself
                proc.wait(timeout=2)
            except Exception:
                proc.kill()
                proc.wait()
        if folder:
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        """Stop the process (if this process started it) and remove its folder."""
        self._finalizer()  # does nothing in a forked copy, or when already stopped
        self._proc, self._dir = None, None

    def _alive(self) -> bool:
        return (self._proc is not None and self._pid == os.getpid() and self._proc.poll() is None
                and self._pages < self.max_pages)

    # ------------------------------------------------------------ reading

    def data(self, gray: np.ndarray) -> dict[str, list]:
        """Words of the 8-bit grey ``gray`` as pytesseract's ``Output.DICT`` (strings, as
        pytesseract returns them). Raises ``DetectorFailed`` when Tesseract times out or fails."""
        with self._lock:
            try:
                return self._stream(gray)
            except StreamStopped:
                self.close()
            return self._once(gray)

    def _stream(self, gray: np.ndarray) -> dict[str, list]:
        import cv2

        if not self._alive():
            self.close()
            self._start()
        page = os.path.join(self._dir, "page.pgm")
        if not cv2.imwrite(page, gray):
            raise StreamStopped("the page could not be written")
        try:
            self._proc.stdin.write(f"{page}\n{self._blank}\n".encode())
        except OSError as err:
            raise StreamStopped(f"tesseract stopped: {err}") from err
        self._pages += 2
        marker = f"1\t{self._pages}\t".encode()
        rows = []
        deadline = time.monotonic() + self.timeout_s
        try:
            while True:
                line = self._line(deadline)
                if line.startswith(marker):
                    break
                rows.append(line)
        finally:
            try:
                os.unlink(page)
            except OSError:
                pass
        out: dict[str, list] = {k: [] for k in _FIELDS}
        real, seen = str(self._pages - 1), False
        for row in rows:
            cells = row.decode("utf-8", "replace").split("\t")
            if len(cells) != len(_FIELDS) or cells[0] == "level":
                continue
            # every row before the marker is the real page's, its own page row among them;
            # anything else means the output is not in the order this relies on: read it the
            # old way rather than return another page's words or half of this one's
            if cells[1] != real:
                raise StreamStopped(f"tesseract wrote page {cells[1]} while page {real} was read")
            seen = seen or cells[0] == "1"
            for key, cell in zip(_FIELDS, cells):
                # as pytesseract gives them: numbers as int (confidence truncated), text as is
                out[key].append(cell if key == "text" else int(float(cell)))
        if not seen:
            raise StreamStopped(f"tesseract wrote no page row for page {real}")
        return out

    def _line(self, deadline: float) -> bytes:
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(0.0, left))[0] if left > 0 else []
            if not ready:
                self._proc.kill()
                self.close()
                raise DetectorFailed(f"Tesseract timed out after {self.timeout_s:.0f} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise StreamStopped("tesseract ended during a page")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def _once(self, gray: np.ndarray) -> dict[str, list]:
        """The old way: pytesseract, a fresh process for this one page."""
        import pytesseract

        pytesseract.pytesseract.tesseract_cmd = self.cmd
        try:
            return pytesseract.image_to_data(gray, lang=self.lang, config=f"--psm {self.psm}",
                                             output_type=pytesseract.Output.DICT, timeout=self.timeout_s)
        except pytesseract.TesseractError as err:  # a RuntimeError too: Tesseract's own message
            raise DetectorFailed(f"Tesseract failed: {err.message.strip() or f'exit status {err.status}'}") from err
        except RuntimeError as err:  # pytesseract's timeout
            raise DetectorFailed(f"Tesseract timed out after {self.timeout_s:.0f} s") from err
        except Exception as err:
            raise DetectorFailed(f"Tesseract failed ({type(err).__name__}: {err})") from err
