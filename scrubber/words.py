"""A result in plain words, for the people who post the photos (``scrubber check``): what was
found and where, what was done about it, and for a blocked photo why and what to do next.
The machine-readable reasons stay in the first line and in ``--json``; this never shows the
text that was found, only what kind of thing it was."""

from __future__ import annotations

from collections import Counter

from scrubber.detection import Box, Kind, face_groups
from scrubber.pipeline import Result
from scrubber.policy import CONSENTED, Status

IDENTIFIERS = {  # label: (one, several)
    "NAME": ("a name", "names"), "DATE": ("a date", "dates"), "MRN": ("a record number", "record numbers"),
    "ACCOUNT": ("an account number", "account numbers"), "PHONE": ("a phone number", "phone numbers"),
    "EMAIL": ("an email address", "email addresses"), "SSN": ("a Social Security number", "Social Security numbers"),
    "ADDRESS": ("a street address", "street addresses"), "ZIP": ("a ZIP code", "ZIP codes"),
    "URL": ("a web address", "web addresses"), "IP": ("an IP address", "IP addresses"),
    "PLATE": ("a licence plate", "licence plates"), "SERIAL": ("a device serial number", "device serial numbers"),
}
SURFACES = (Kind.SCREEN, Kind.DOCUMENT, Kind.WHITEBOARD, Kind.WRISTBAND)
THINGS = {  # what can be found, keyed as report.Summary.by_kind keys it: (one, several)
    "face": ("a face", "faces"), "barcode": ("a barcode", "barcodes"),
    "unreadable text line": ("a line of text nobody could read", "lines of text nobody could read"),
    "screen": ("a screen", "screens"), "document": ("a document or label", "documents or labels"),
    "whiteboard": ("a whiteboard", "whiteboards"), "wristband": ("a wristband", "wristbands"),
} | {f"identifier:{label}": words for label, words in IDENTIFIERS.items()}


def phrase(key: str, n: int) -> str:
    """``n`` of what ``key`` (a ``THINGS`` key) names: "a name", "3 names", "a screen"."""
    kind, _, label = key.partition(":")
    one, several = THINGS.get(key) or ((f"an identifier ({label})", f"identifiers ({label})")
                                       if kind == "identifier" else (key, key))
    return one if n == 1 else f"{n} {several}"


def noun(key: str) -> str:
    """What ``key`` names, without its article: "record number", "document or label"."""
    return phrase(key, 1).removeprefix("an ").removeprefix("a ")


def place(box: Box, width: int, height: int) -> str:
    """Where ``box`` is in the photo, in words: "upper left", "centre", "lower right"."""
    cx, cy = (box.x0 + box.x1) / 2 / max(1, width), (box.y0 + box.y1) / 2 / max(1, height)
    row = "upper" if cy < 1 / 3 else "lower" if cy > 2 / 3 else "middle"
    col = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else ""
    return "centre" if row == "middle" and not col else f"{row} {col}".strip() if col else f"{row} middle"


def listed(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``; nothing for no items."""
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def found(result: Result) -> list[str]:
    """What was found and done, one phrase per kind: "2 faces blurred", "a screen (upper
    left) filled whole", "a name and a record number filled"."""
    w, h = result.width, result.height
    dets = result.detections
    out = []
    faces = face_groups(d for d in dets if d.kind is Kind.FACE and d.label != CONSENTED)
    kept = face_groups(d for d in dets if d.kind is Kind.FACE and d.label == CONSENTED)
    if faces:
        out.append(f"{len(faces)} face{'s' * (len(faces) > 1)} blurred")
    if kept:
        out.append(f"{len(kept)} face{'s' * (len(kept) > 1)} left visible (on the consent roster)")
    for kind in SURFACES:
        for d in (d for d in dets if d.kind is kind):
            out.append(f"{phrase(kind.value, 1)} ({place(d.box, w, h)}) filled whole")
    codes = [d for d in dets if d.kind is Kind.BARCODE]
    if codes:
        out.append(f"{phrase('barcode', len(codes))} filled")
    labels = Counter(d.label for d in dets if d.kind is Kind.IDENTIFIER)
    if labels:
        out.append(f"{listed([phrase(f'identifier:{label}', n) for label, n in labels.items()])} filled")
    unread = [d for d in dets if d.kind is Kind.TEXT and "unreadable" in d.evidence]
    if unread and any(r.startswith("fill:text") for r in result.reasons):
        out.append(f"{len(unread)} line{'s' * (len(unread) > 1)} of text nobody could read filled")
    return out


def tally(by_kind: dict[str, int]) -> str:
    """A scan's counts per kind (``report.Summary.by_kind``) in words: "5 faces, a screen and
    2 names"."""
    return listed([phrase(key, n) for key, n in by_kind.items()])


def why_blocked(result: Result) -> list[str]:
    """Why a blocked photo was blocked and what the person can do, one sentence per cause."""
    out = []
    reasons = result.reasons
    if result.error and "No such file" in result.error:
        out.append("There is no file by that name: check the name and the folder.")
    elif result.error and "Permission denied" in result.error:
        out.append("You may not read this file: copy it somewhere you can, or ask whoever owns it.")
    elif result.error:
        out.append("The file could not be read as a photo: check that it opens, or export it again as JPEG.")
    if any(r.startswith("surface-too-large") for r in reasons):
        kinds = [phrase(k.value, 1) for k in SURFACES if any(d.kind is k for d in result.detections)]
        what = listed(kinds) if kinds else "a record (a chart, a screen, a whiteboard or a label)"
        out.append(f"The photo is a close-up of {what}: do not post it. If it is only in the background, crop it "
                   "out and check again.")
    if any(r.startswith("verify:residual:face") for r in reasons):
        out.append("A face was still found after blurring: send the photo for review (scrubber serve), or crop "
                   "out the people at the edges and check again.")
    elif any(r.startswith("verify:") for r in reasons):
        out.append("Something was still found after redacting: send the photo for review (scrubber serve), or "
                   "crop out the part with the text and check again.")
    for r in reasons:
        if r == "block:face":
            out.append("The policy does not allow faces: add the people who signed a photo release to the consent "
                       "roster (scrubber consent add), or ask whoever set the policy.")
        elif r.startswith("block:"):
            out.append(f"The policy blocks photos showing {r.split(':')[1]}s: ask whoever set the policy.")
    if any(r.startswith(("detector-error", "recognizer-error", "internal-error", "worker-crashed")) for r in reasons):
        out.append("A detector failed on this photo, so it was not fully checked: try again, and report it if it "
                   "fails again.")
    if any(r in ("timeout", "memory-limit") for r in reasons):
        out.append("The photo took too long or too much memory to check: try a smaller copy of it.")
    if any(r.startswith("multi-frame") for r in reasons):
        out.append("The file holds several pictures: save the one you want to post as a single photo.")
    return out or ["It could not be shown safe: send it for review (scrubber serve)."]


def verdict(result: Result) -> str:
    """The verdict as a person says it."""
    if result.status is Status.BLOCKED:
        return "Could not be read: nothing written" if result.error else "Blocked: do not post"
    if result.status is Status.REDACTED:
        return "Redacted: post the safe copy"
    return "Nothing found: ready to post"


def explain(result: Result, wrote: str | None, asked_out: bool) -> list[str]:
    """The lines ``scrubber check`` prints under its verdict line."""
    if result.status is Status.BLOCKED:
        return ["Not safe to post; nothing was written."] + why_blocked(result)
    lines = []
    if result.status is Status.REDACTED:
        lines.append("Found and hidden: " + "; ".join(found(result)) + ".")
    else:
        lines.append("Nothing that identifies a patient was found.")
    if "audio-dropped" in result.notes:
        lines.append("The clip's sound was left out (a voice can say a patient's name); --keep-audio keeps it.")
    elif "audio-kept" in result.notes:
        lines.append("The clip's sound was kept, as asked: listen to it before posting (no one may say a patient's "
                     "name).")
    if wrote:
        lines.append(f"Share {wrote}: it holds the pixels only (no camera, GPS or date metadata).")
    elif result.status is Status.CLEAN and not asked_out:
        lines.append(f"The original still carries its metadata (camera, GPS, date): give --out {safe_example(result)} "
                     "for a copy that holds the pixels only, and share that.")
    return lines


def safe_example(result) -> str:
    """The name ``--out`` is shown with: a clip's safe copy is an MP4, a photo's a JPEG."""
    return "SAFE.mp4" if any(n.startswith("video:") for n in result.notes) else "SAFE.jpg"
