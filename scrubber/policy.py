"""Policy: what to do with each kind of finding, and the image verdict.

A policy is one frozen value read from TOML over built-in defaults (``scrubber policy
show`` prints the effective one). ``decide`` reads only kind, label, score and geometry
(never ``source``) and returns a ``Verdict``: ``clean``, ``redacted`` or ``blocked`` with
machine-readable reasons and the regions the redactor must paint. It fails closed: an
unknown key, action or detector name stops the run; any error recorded upstream blocks.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path

from scrubber.detection import Box, Detection, Kind, clip, grow
from scrubber.errors import PolicyError


class Action(StrEnum):
    FILL = "fill"  # solid colour: the only safe choice for text
    BLUR = "blur"  # irreversible: heavy blur plus noise, ellipse for faces
    KEEP = "keep"
    BLOCK = "block"  # refuse the whole image


class Status(StrEnum):
    CLEAN = "clean"
    REDACTED = "redacted"
    BLOCKED = "blocked"


DEFAULT_ACTIONS: dict[Kind, Action] = {
    Kind.FACE: Action.BLUR,
    Kind.IDENTIFIER: Action.FILL,
    Kind.BARCODE: Action.FILL,
    Kind.TEXT: Action.KEEP,  # words that no recognizer flagged: banners, signage
    Kind.SCREEN: Action.FILL,
    Kind.DOCUMENT: Action.FILL,
    Kind.WHITEBOARD: Action.FILL,
    Kind.WRISTBAND: Action.FILL,
}
CONSENTED = "consented"  # label of a face kept visible by the consent roster
# faces-dlib (HOG) found no face YuNet missed in 221 labelled faces (bench/README.md): it is
# opt-in, and its time pays for the plate network
DEFAULT_DETECTORS = ("faces-yunet", "text-ocr", "barcodes", "surfaces", "plates")
DEFAULT_IDENTIFIERS = (
    "name", "date", "mrn", "account", "phone", "email", "ssn", "address", "zip", "url", "ip", "plate", "serial",
)


@dataclass(frozen=True)
class Policy:
    actions: dict[Kind, Action] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))
    detectors: tuple[str, ...] = DEFAULT_DETECTORS
    identifiers: tuple[str, ...] = DEFAULT_IDENTIFIERS
    threshold: float = 0.5  # identifier score needed to act
    face_threshold: float = 0.5  # YuNet's own floor is 0.6, 0.5 on its small-face level
    allowlist: tuple[str, ...] = ()  # whole values never redacted: clinic name, main phone, public address
    unreadable_text: Action = Action.KEEP  # text lines found but not readable by OCR
    verify: bool = True  # re-check the safe copy; anything left blocks
    verify_scope: str = "regions"  # "regions": prove fills solid, re-detect around what changed; "image": everywhere
    verify_face_score: float = 0.85  # a face re-detected inside a blurred region blocks only above this
    repair_rounds: int = 2  # what the re-check finds is redacted and checked again this many times before it blocks
    max_pixels: int = 80_000_000  # per frame
    max_total_pixels: int = 200_000_000  # all frames of one file together
    max_file_mb: int = 512  # larger files are refused before they are read
    max_video_seconds: int = 180  # longer clips are blocked, not checked
    max_video_pixels: int = 8_294_400  # per video frame (3840 x 2160)
    keep_audio: bool = False  # clips: keep the sound track (a voice saying a name is PHI too)
    keep_file_names: bool = False  # true: publish names as they are, unscreened (folders known to be safe)
    jpeg_quality: int = 92
    fill_color: tuple[int, int, int] = (0, 0, 0)
    roster: str = ""  # consent roster file; empty: the user's config dir (see scrubber.consent)
    consent_threshold: float = 0.40  # face_recognition distance below which a face matches an entry
    consent_min_face: int = 80  # faces smaller than this (pixels tall) are never kept visible
    surface_block_share: float = 0.35  # surfaces covering more of the image than this block it
    signage: bool = True  # a surface holding only ordinary words is a sign, not a record (scrubber.signage)
    surface_margin: float = 0.01  # grow surface outlines by this share of the image diagonal
    text_margin: float = 0.15  # grow text boxes by this share of their height
    # the ellipse covers the head around the face box: hair, ears, outline (at 0.35 the leak
    # benchmark's judge re-identified two blurred 12-MP faces from the hair and ear left outside)
    face_margin: float = 0.5
    source: str = "built-in defaults"

    @property
    def max_bytes(self) -> int:
        return self.max_file_mb * 1024 * 1024

    def for_review(self) -> "Policy":
        """The policy a reviewer's "approve" runs under: what this policy blocks is redacted
        instead (faces blurred, everything else filled, surfaces of any size filled), so the
        approved copy is this pipeline's verified redaction, never the pixels as held."""
        actions = {k: (Action.BLUR if k is Kind.FACE else Action.FILL) if a is Action.BLOCK else a
                   for k, a in self.actions.items()}
        return replace(self, actions=actions, surface_block_share=1.0, source=f"{self.source} (review)")

    # ------------------------------------------------------------ loading

    @classmethod
    def load(cls, path: str | Path | None) -> "Policy":
        if path is None:
            return cls()
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError as err:
            raise PolicyError(f"{path}: policy file not found") from err
        except (OSError, UnicodeDecodeError) as err:
            raise PolicyError(f"{path}: cannot read policy ({err})") from err
        except tomllib.TOMLDecodeError as err:
            raise PolicyError(f"{path}: invalid TOML ({err})") from err
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: dict, source: str = "dict") -> "Policy":
        policy = cls(source=source)
        data = dict(data)
        actions = dict(policy.actions)
        for kind, action in data.pop("actions", {}).items():
            try:
                actions[Kind(kind)] = Action(action)
            except ValueError:
                raise PolicyError(
                    f"{source}: [actions] {kind} = {action!r}: kinds are {', '.join(k.value for k in Kind)}; "
                    f"actions are {', '.join(a.value for a in Action)}"
                ) from None
        changes: dict = {"actions": actions}
        known = {f.name: f for f in fields(cls) if f.name not in ("actions", "source")}
        for key, value in data.items():
            if key not in known:
                raise PolicyError(f"{source}: unknown policy key '{key}' (valid: {', '.join(sorted(known))}, actions)")
            default = getattr(policy, key)
            try:
                if isinstance(default, Action):
                    value = Action(value)
                elif isinstance(default, tuple):
                    if not isinstance(value, list):
                        raise TypeError
                    value = tuple(value)
                elif isinstance(default, bool):
                    if not isinstance(value, bool):
                        raise TypeError
                elif isinstance(default, (int, float)):
                    if isinstance(value, bool) or not isinstance(value, (int, float)):
                        raise TypeError
                    value = type(default)(value)
            except (TypeError, ValueError):
                raise PolicyError(f"{source}: '{key}' = {value!r} is not a valid {type(default).__name__}") from None
            changes[key] = value
        policy = replace(policy, **changes)
        policy.check()
        return policy

    def check(self) -> None:
        from scrubber.detect.registry import DETECTORS
        from scrubber.phi.registry import RECOGNIZERS
        from scrubber.registry import pick

        for key in ("detectors", "identifiers"):
            if not getattr(self, key):
                raise PolicyError(f"{self.source}: '{key}' is empty: nothing would be looked for, and every photo "
                                  "would pass as clean")
        try:
            pick(self.detectors, DETECTORS, PolicyError, "detector")
            pick(self.identifiers, RECOGNIZERS, PolicyError, "identifier")
        except PolicyError as err:
            raise PolicyError(f"{self.source}: {err}") from None
        if not all(0.0 < t <= 1.0 for t in (self.threshold, self.face_threshold, self.verify_face_score,
                                             self.consent_threshold, self.surface_block_share)):
            raise PolicyError(f"{self.source}: thresholds must be in (0, 1]")
        if not isinstance(self.repair_rounds, int) or not 0 <= self.repair_rounds <= 5:
            raise PolicyError(f"{self.source}: repair_rounds must be an integer 0-5")
        if self.verify_scope not in ("regions", "image"):
            raise PolicyError(f"{self.source}: verify_scope must be \"regions\" or \"image\"")
        if len(self.fill_color) != 3 or not all(isinstance(c, int) and 0 <= c <= 255 for c in self.fill_color):
            raise PolicyError(f"{self.source}: fill_color must be three integers 0-255")
        if min(self.max_pixels, self.max_total_pixels, self.max_file_mb, self.max_video_seconds, self.max_video_pixels) <= 0 or not 1 <= self.jpeg_quality <= 100:
            raise PolicyError(f"{self.source}: max_pixels, max_total_pixels and max_file_mb must be positive and "
                              "jpeg_quality 1-100")

    def to_toml(self) -> str:
        def fmt(value) -> str:
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, StrEnum):
                return f'"{value.value}"'
            if isinstance(value, str):
                return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
            if isinstance(value, tuple):
                return "[" + ", ".join(fmt(v) for v in value) + "]"
            return repr(value)

        lines = [f"# effective policy (from {self.source})"]
        for f in fields(self):
            if f.name not in ("actions", "source"):
                lines.append(f"{f.name} = {fmt(getattr(self, f.name))}")
        lines += ["", "[actions]"] + [f'{k.value} = "{a.value}"' for k, a in self.actions.items()]
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- decide


@dataclass(frozen=True)
class Region:
    box: Box
    action: Action
    ellipse: bool = False
    polygon: tuple[tuple[int, int], ...] | None = None
    kind: Kind | None = None  # what was found there (verify re-runs only the detectors for it)


@dataclass(frozen=True)
class Verdict:
    status: Status
    reasons: tuple[str, ...]
    regions: tuple[Region, ...]
    signs: tuple[Detection, ...] = ()  # surfaces judged signage: left alone (scrubber.signage)


def _union_share(polygons, width: int, height: int) -> float:
    """Share of the image covered by the union of ``polygons`` (rasterised at 1/4 scale)."""
    import cv2
    import numpy as np

    k = 0.25
    mask = np.zeros((max(1, int(height * k)), max(1, int(width * k))), np.uint8)
    for poly in polygons:
        cv2.fillPoly(mask, [np.round(np.asarray(poly, np.float32) * k).astype(np.int32)], 1)
    return float(mask.mean())


def _grow_polygon(points, margin: float, width: int, height: int) -> tuple[tuple[int, int], ...]:
    """Move every vertex ``margin`` pixels away from the centroid (outlines are convex)."""
    cx = sum(p[0] for p in points) / len(points)
    cy = sum(p[1] for p in points) / len(points)
    out = []
    for x, y in points:
        d = math.hypot(x - cx, y - cy) or 1.0
        out.append((int(min(max(x + (x - cx) / d * margin, 0), width - 1)),
                    int(min(max(y + (y - cy) / d * margin, 0), height - 1))))
    return tuple(out)


def _acted(det: Detection, policy: Policy) -> bool:
    if det.kind is Kind.FACE:
        return det.score >= policy.face_threshold
    if det.kind is Kind.IDENTIFIER:
        return det.score >= policy.threshold
    return True


def decide(detections: tuple[Detection, ...], policy: Policy, width: int, height: int,
           errors: tuple[str, ...] = ()) -> Verdict:
    """Turn detections into a verdict. ``errors`` (detector failures, timeouts) always block."""
    from scrubber.signage import signs

    reasons: list[str] = list(errors)
    regions: list[Region] = []
    block = bool(errors)
    surfaces: list = []
    signage = signs(detections, width, height, policy.allowlist) if policy.signage else set()
    for i, det in enumerate(detections):
        if i in signage:
            reasons.append(f"keep:signage:{det.kind.value}")  # its identifiers are filled one by one
            continue
        action = policy.actions.get(det.kind, Action.FILL)
        if det.kind is Kind.FACE and det.label == CONSENTED:
            reasons.append("keep:face:consented")  # matched one active roster entry (see scrubber.consent)
            continue
        if det.kind is Kind.TEXT:
            if "unreadable" not in det.evidence:
                continue  # plain words: identifiers are separate detections
            action = policy.unreadable_text
        if action is Action.KEEP or not _acted(det, policy):
            continue
        tag = f"{det.kind.value}:{det.label}" if det.label else det.kind.value
        if action is Action.BLOCK:
            block = True
            reasons.append(f"block:{tag}")
            continue
        polygon = None
        if det.kind is Kind.FACE:
            box = grow(det.box, policy.face_margin)
        elif det.kind in (Kind.IDENTIFIER, Kind.TEXT):
            box = grow(det.box, pixels=max(2, int(det.box.height * policy.text_margin)))
        elif det.polygon:
            margin = policy.surface_margin * math.hypot(width, height)
            polygon = _grow_polygon(det.polygon, margin, width, height)
            box = grow(det.box, pixels=int(margin) + 1)
            surfaces.append(polygon)
        else:
            box = grow(det.box, pixels=2)
        box = clip(box, width, height)
        if not box.area:
            continue
        regions.append(Region(box, action, ellipse=det.kind is Kind.FACE, polygon=polygon, kind=det.kind))
        reasons.append(f"{action.value}:{tag}")
    share = _union_share(surfaces, width, height) if surfaces else 0.0
    if share > policy.surface_block_share:
        block = True
        reasons.append(f"surface-too-large:{share:.2f}")
    reasons = list(dict.fromkeys(reasons))
    signs = tuple(detections[i] for i in sorted(signage))
    if block:
        return Verdict(Status.BLOCKED, tuple(reasons), (), signs)
    if regions:
        return Verdict(Status.REDACTED, tuple(reasons), tuple(regions), signs)
    return Verdict(Status.CLEAN, tuple(reasons), (), signs)
