"""Reports: JSON and CSV records of results, and the summary counts.

Reports never carry PHI text: a detection's text appears only masked (``J*** S****``).
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from scrubber.detection import Box, Detection, Kind, face_groups, mask_text
from scrubber import outputs
from scrubber.pipeline import Result
from scrubber.policy import Status


def detection_record(det: Detection) -> dict:
    return {
        "kind": det.kind.value,
        "label": det.label,
        "box": list(det.box.as_tuple()),
        "score": round(float(det.score), 3),
        "source": det.source,
        "masked": mask_text(det.text) if det.text else None,
        "evidence": list(det.evidence),
    }


def detection_from_record(d: dict) -> Detection | None:
    """A detection back from its record (kind, box, score, source and label; never text), or
    None for an entry that is not one (a sidecar edited by hand)."""
    try:
        x0, y0, x1, y1 = (int(v) for v in d["box"])
        return Detection(Kind(d["kind"]), Box(x0, y0, x1, y1), float(d["score"]), str(d["source"]), d.get("label"),
                         evidence=tuple(map(str, d.get("evidence") or ())))
    except (KeyError, TypeError, ValueError):
        return None


def result_record(result: Result, include_text_words: bool = False) -> dict:
    """One image as plain JSON. Plain OCR words are left out unless asked for (they are many)."""
    dets = [d for d in result.detections if include_text_words or d.kind.value != "text" or "unreadable" in d.evidence]
    return {
        "path": result.path,
        "sha256": result.sha256,
        "verdict": result.status.value,
        "reasons": list(result.reasons),
        "error": result.error,
        "output": result.output,
        "format": result.format,
        "width": result.width,
        "height": result.height,
        "notes": list(result.notes),
        "detections": [detection_record(d) for d in dets],
        "residuals": [detection_record(d) for d in result.residuals],
        "timings": result.timings,
    }


@dataclass(frozen=True)
class Summary:
    images: int
    by_status: dict[str, int]
    by_kind: dict[str, int]
    failed: int  # files that could not be processed (unreadable, not written)
    skipped: int  # non-image files left alone
    seconds: float

    @property
    def per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0


def from_record(record: dict) -> Result:
    """A result back from its record or a held photo's sidecar: what pages and words need
    (verdict, reasons, error, size, detections, residuals), never pixels or text."""
    def found(key: str) -> tuple[Detection, ...]:
        return tuple(d for d in map(detection_from_record, record.get(key) or []) if d is not None)

    try:
        status = Status(record.get("verdict"))
    except ValueError:
        status = Status.BLOCKED
    return Result(str(record.get("path") or record.get("file") or ""), status,
                  tuple(map(str, record.get("reasons") or ())), found("detections"), error=record.get("error"),
                  width=int(record.get("width") or 0), height=int(record.get("height") or 0),
                  residuals=found("residuals"))


def faces(result: Result) -> int:
    """How many faces ``result`` holds: people, not detections (YuNet and dlib on one face,
    or two pyramid levels, are one face: ``face_groups``)."""
    return len(face_groups(d for d in result.detections if d.kind is Kind.FACE))


def summarize(results: list[Result], seconds: float, skipped: int = 0) -> Summary:
    """Counts per verdict and per kind found: faces as people (``faces``), identifiers per
    label, surfaces and barcodes per detection, and text lines nobody could read as
    ``unreadable text line`` (words that were read are not counted)."""
    by_status = Counter({s.value: 0 for s in Status})
    by_kind: Counter = Counter()
    for r in results:
        by_status[r.status.value] += 1
        people = faces(r)
        if people:
            by_kind["face"] += people
        for d in r.detections:
            if d.kind is Kind.TEXT and "unreadable" in d.evidence:
                by_kind["unreadable text line"] += 1
            elif d.kind not in (Kind.TEXT, Kind.FACE):
                by_kind[f"{d.kind.value}:{d.label}" if d.label and d.kind is Kind.IDENTIFIER else d.kind.value] += 1
    return Summary(len(results), dict(by_status), dict(sorted(by_kind.items())),
                   sum(not r.processed for r in results), skipped, seconds)


CSV_FIELDS = ("path", "sha256", "verdict", "reasons", "error", "output", "faces", "identifiers", "barcodes",
              "detections", "seconds")


def to_csv(results: list[Result]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in results:
        rec = result_record(r)
        writer.writerow({
            "path": r.path,
            "sha256": r.sha256 or "",
            "verdict": r.status.value,
            "reasons": ";".join(r.reasons),
            "error": r.error or "",
            "output": r.output or "",
            "faces": faces(r),
            "identifiers": sum(d["kind"] == "identifier" for d in rec["detections"]),
            "barcodes": sum(d["kind"] == "barcode" for d in rec["detections"]),
            "detections": ";".join(
                f"{d['kind']}{':' + d['label'] if d['label'] else ''}@{','.join(map(str, d['box']))}:{d['score']}"
                for d in rec["detections"]
            ),
            "seconds": r.timings.get("total", ""),
        })
    return buf.getvalue()


def write_html(results: list[Result], summary: Summary, folder: Path, overwrite: bool) -> Path:
    """``folder/report.html``: a page for the people who post the photos (a card per photo with
    its redacted preview, what was found numbered on it, the verdict and what to do in plain
    words; filters by verdict; a summary). It is one file that needs no network: the previews
    (the results' ``preview`` bytes) are inline, so no picture of a blocked photo lies in the
    folder beside the safe copies."""
    import time
    from urllib.parse import quote

    from jinja2 import Environment, PackageLoader, select_autoescape

    from scrubber import words
    from scrubber.marks import marks

    cards = []
    for r in results:
        src = f"data:image/jpeg;base64,{base64.b64encode(r.preview).decode()}" if r.preview else None
        why_none = "the photo could not be read" if r.error else "it was not fully checked"
        link = None
        if r.output and Path(r.output).is_relative_to(folder.absolute()):
            link = quote(Path(r.output).relative_to(folder.absolute()).as_posix())
        shown = r.output and Path(r.output).name
        cards.append({"status": r.status.value, "name": r.path, "preview": src, "no_preview": why_none,
                      "width": r.width, "height": r.height, "marks": marks(r),
                      "verdict": words.verdict(r), "link": link, "output": shown,
                      "todo": words.why_blocked(r) if r.status is Status.BLOCKED else []})
    order = {Status.BLOCKED.value: 0, Status.REDACTED.value: 1, Status.CLEAN.value: 2}
    cards.sort(key=lambda c: order[c["status"]])
    env = Environment(loader=PackageLoader("scrubber", "templates"), autoescape=select_autoescape(["html"]))
    html = env.get_template("report.html").render(
        summary=summary, counts={s.value: summary.by_status.get(s.value, 0) for s in Status}, cards=cards,
        found=words.tally(summary.by_kind), when=time.strftime("%Y-%m-%d %H:%M"))
    return outputs.write(html.encode(), folder / "report.html", overwrite=overwrite)


def write_reports(results: list[Result], summary: Summary, folder: Path, overwrite: bool) -> tuple[Path, Path]:
    doc = {
        "summary": {
            "images": summary.images,
            "verdicts": summary.by_status,
            "detections": summary.by_kind,
            "not_processed": summary.failed,
            "skipped_non_images": summary.skipped,
            "seconds": round(summary.seconds, 3),
        },
        "images": [result_record(r) for r in results],
    }
    json_path, csv_path = folder / "report.json", folder / "report.csv"
    outputs.write((json.dumps(doc, indent=1) + "\n").encode(), json_path, overwrite=overwrite)
    outputs.write(to_csv(results).encode("utf-8", "backslashreplace"), csv_path, overwrite=overwrite)
    return json_path, csv_path
