"""What was found in a photo, as numbered marks for pages people look at: ``report.html``,
the review queue and the "Check a photo" page draw each mark's box over the redacted preview
with its number on a tag, and list the numbers with what they are in plain words ("Face",
"Name on a screen", "Barcode on a wristband", "Still found after redacting: face").

Marks are made from a ``Result``; the review queue rebuilds one from a held photo's sidecar
(``report.from_record``). One face is one mark, however many detectors found it (its
detections are grouped as ``detection.face_groups`` groups them); an identifier or a barcode
on a filled surface is said on the surface's mark ("Screen with 5 names and a date"). Tags are
placed where they cover no other tag.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from scrubber.detection import Box, Kind, coverage, face_groups, iou
from scrubber.pipeline import Result
from scrubber.policy import CONSENTED
from scrubber.words import SURFACES, listed, noun, phrase

ORDER = (Kind.FACE, Kind.SCREEN, Kind.DOCUMENT, Kind.WHITEBOARD, Kind.WRISTBAND, Kind.BARCODE, Kind.IDENTIFIER,
         Kind.TEXT)
TAG_SHARE = 1 / 28  # a tag's side, as a share of the photo's longer side


@dataclass(frozen=True)
class Mark:
    number: int
    box: tuple[int, int, int, int]
    what: str  # plain words, never the text that was found
    style: str  # "face", "kept", "surface", "code", "text" or "residual": how the page colours it
    tag: tuple[int, int, int]  # (x, y, side) of the numbered tag, in the photo's pixels


def marks(result: Result) -> list[Mark]:
    """The numbered marks of one result (see the module docstring)."""
    found = result.detections
    filled_text = any(r.startswith("fill:text") for r in result.reasons)
    surfaces = [d for d in found if d.kind in SURFACES]
    items: list[tuple[int, Box, str, str]] = []
    for group in face_groups(d for d in found if d.kind is Kind.FACE):
        kept = all(d.label == CONSENTED for d in group)
        items.append((0, group[0].box, "Face left visible (on the consent roster)" if kept else "Face",
                      "kept" if kept else "face"))
    inside: dict[int, Counter] = {i: Counter() for i in range(len(surfaces))}
    for d in found:
        if d.kind in SURFACES or d.kind is Kind.FACE or (d.kind is Kind.TEXT and not filled_text):
            continue
        key = ("barcode" if d.kind is Kind.BARCODE else "unreadable text line" if d.kind is Kind.TEXT
               else f"identifier:{d.label}")
        holder = next((i for i, s in enumerate(surfaces) if coverage(d.box, s.box) >= 0.5), None)
        if holder is not None:  # filled with its surface: said on the surface's mark
            inside[holder][key] += 1
            continue
        what = "Text nobody could read" if d.kind is Kind.TEXT else _upper_first(noun(key))
        items.append((ORDER.index(d.kind), d.box, what, "code" if d.kind is Kind.BARCODE else "text"))
    for i, s in enumerate(surfaces):
        held = listed([phrase(key, n) for key, n in inside[i].items()])
        items.append((ORDER.index(s.kind), s.box,
                      _upper_first(noun(s.kind.value)) + (f" with {held}" if held else ""), "surface"))
    for d in result.residuals:
        items.append((len(ORDER), d.box, f"Still found after redacting: {d.kind.value}", "residual"))
    items.sort(key=lambda it: (it[0], it[1].x0, it[1].y0))
    width, height = result.width, result.height
    side = max(12, round(max(width, height, 1) * TAG_SHARE))
    taken: list[Box] = []
    out = []
    for number, (_, box, what, style) in enumerate(items, 1):
        x, y = _tag_place(box, side, width, height, taken)
        taken.append(Box(x, y, x + side, y + side))
        out.append(Mark(number, box.as_tuple(), what, style, (x, y, side)))
    return out


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _tag_place(box: Box, side: int, width: int, height: int, taken: list[Box]) -> tuple[int, int]:
    """Where the tag of ``box`` goes: just above its top-left corner, else below it, else inside,
    else further along the top edge, the first place that covers no tag placed before."""
    width, height = max(width, box.x1), max(height, box.y1)

    def inside(x: int, y: int) -> tuple[int, int]:
        return min(max(0, x), max(0, width - side)), min(max(0, y), max(0, height - side))

    spots = [(box.x0, box.y0 - side), (box.x0, box.y1), (box.x0, box.y0), (box.x1 - side, box.y0 - side)]
    spots += [(box.x0 + k * side, box.y0 - side) for k in range(1, 12)]
    spots += [(box.x0 + k * side, box.y1) for k in range(1, 12)]
    for x, y in (inside(*s) for s in spots):
        if not any(iou(Box(x, y, x + side, y + side), t) > 0 for t in taken):
            return x, y
    return inside(box.x0, box.y0)
