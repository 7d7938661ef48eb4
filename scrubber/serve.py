"""``scrubber serve HOLD``: the review queue in a browser and an HTTP check endpoint.

* Every request needs the access token printed at start: ``?token=`` (which also sets an
  HttpOnly, SameSite=Strict cookie), the cookie, or ``Authorization: Bearer``. Without it: 401.
* Forms that change state carry a CSRF value derived from the token and are refused when the
  ``Origin`` header names another site.
* The queue shows *redacted* previews only (every detection filled, faces destroyed); the
  raw original is never sent to the browser.
* Decisions (approve the redacted copy, reject, release the original with a typed
  confirmation and a justification) are appended to the hash-chained ``HOLD/audit.jsonl``.
* ``POST /v1/check`` takes an image (multipart field ``file``) and answers with the same JSON
  as ``scrubber check --json``; ``?image=true`` adds the redacted image (base64). The scan runs
  in a worker process with a time limit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import tempfile
import threading
from pathlib import Path
from urllib.parse import quote

import numpy as np
from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from scrubber import audit
from scrubber.detection import Box, Detection, Kind, clip, grow
from scrubber.errors import ImageUnreadable, OutputExists
from scrubber.imageio import IMAGE_EXTENSIONS, OutputFormat, encode, load, write_atomic
from scrubber.policy import CONSENTED, Action, Policy, Region
from scrubber.redact import Blur, Fill, apply

COOKIE = "scrubber_token"
REVIEWER = "scrubber_reviewer"
CONTENT_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/tiff": ".tif",
                 "image/gif": ".gif", "image/bmp": ".bmp", "image/heic": ".heic", "image/heif": ".heif"}


class Review:
    """The held photos in HOLD/review and what can be done with them."""

    def __init__(self, hold: Path, ready: Path | None, policy: Policy):
        self.hold, self.ready, self.policy = Path(hold), Path(ready) if ready else None, policy
        self.folder = self.hold / "review"

    def items(self) -> list[dict]:
        done = audit.decisions(self.hold)
        out = []
        for sidecar in sorted(self.folder.rglob("*.json")):
            held = sidecar.with_suffix("")
            if not held.exists():
                continue
            try:
                info = json.loads(sidecar.read_text())
            except ValueError:
                info = {"reasons": ["sidecar-unreadable"]}
            item_id = held.relative_to(self.folder).as_posix()
            out.append({"id": item_id, "quoted": quote(item_id), "name": held.name, "info": info,
                        "reasons": info.get("reasons") or [], "decision": done.get(item_id)})
        return out

    def path(self, item_id: str) -> Path | None:
        held = (self.folder / item_id).resolve()
        if self.folder.resolve() not in held.parents or not held.is_file() or held.suffix == ".json":
            return None
        return held

    def info(self, held: Path) -> dict:
        try:
            return json.loads(held.with_name(held.name + ".json").read_text())
        except (OSError, ValueError):
            return {}

    def redacted(self, held: Path, boxes: bool = False) -> np.ndarray:
        """The held photo with every recorded detection filled (faces destroyed)."""
        image = load(held, self.policy.max_pixels)
        px = image.frames[0].pixels
        dets = []
        for d in self.info(held).get("detections") or []:
            try:
                dets.append(Detection(Kind(d["kind"]), Box(*d["box"]), float(d["score"]), d.get("source") or "review",
                                      label=d.get("label"), evidence=tuple(d.get("evidence") or ())))
            except (KeyError, TypeError, ValueError):
                continue
        regions = []
        for d in dets:
            if d.label == CONSENTED or d.kind is Kind.TEXT and (
                    "unreadable" not in d.evidence or self.policy.unreadable_text is Action.KEEP):
                continue  # as the policy: plain words and (by default) unreadable lines are kept
            if d.kind is Kind.FACE:
                box, action = grow(d.box, self.policy.face_margin), Action.BLUR
            else:
                box, action = grow(d.box, pixels=max(2, int(d.box.height * self.policy.text_margin))), Action.FILL
            box = clip(box, image.width, image.height)
            if box.area:
                regions.append(Region(box, action, ellipse=d.kind is Kind.FACE, kind=d.kind))
        out = apply(px, tuple(regions), Fill(self.policy.fill_color), Blur())
        if boxes:
            import cv2

            out = out.copy()
            for d in dets:
                if d.kind is Kind.TEXT and "unreadable" not in d.evidence:
                    continue
                b = d.box
                cv2.rectangle(out, (b.x0, b.y0), (b.x1, b.y1), (255, 40, 40), max(2, image.width // 400))
                label = f"{d.kind.value}{':' + d.label if d.label else ''} {d.score:.2f}"
                cv2.putText(out, label, (b.x0, max(12, b.y0 - 6)), cv2.FONT_HERSHEY_SIMPLEX,
                            max(0.5, image.width / 1600), (255, 40, 40), max(1, image.width // 800))
        return out

    def publish(self, pixels: np.ndarray, name: str) -> Path:
        from scrubber.watch import _candidates

        if self.ready is None:
            raise OutputExists("no READY folder: start the server with --ready READY to approve or release")
        fmt = OutputFormat.for_path(Path(name)) or OutputFormat.PNG
        data = encode(pixels, fmt, self.policy.jpeg_quality)
        for candidate in _candidates(self.ready / Path(name).with_suffix(fmt.extension)):
            try:
                write_atomic(data, candidate)
            except OutputExists:
                continue
            return candidate
        raise OutputExists(f"{self.ready}: no free name for {name}")


def _jpeg(pixels: np.ndarray, max_side: int) -> bytes:
    from PIL import Image

    img = Image.fromarray(pixels)
    img.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


class Checker:
    """Scans uploads in one worker process with a time limit (shared by requests, one at a time)."""

    def __init__(self, policy: Policy, timeout_s: float):
        self.policy, self.timeout_s = policy, timeout_s
        self._worker = None
        self._lock = threading.Lock()

    def scan(self, source: Path, out: Path | None) -> dict:
        from scrubber.watch import ScanProcess

        with self._lock:
            if self._worker is None:
                self._worker = ScanProcess(self.policy, self.timeout_s)
            return self._worker.scan(source, out, OutputFormat.JPEG if out else None)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()


def create_app(hold: Path, token: str, ready: Path | None = None, policy: Policy | None = None,
               max_upload: int = 25 * 1024 * 1024, check_timeout_s: float = 60.0) -> FastAPI:
    policy = policy or Policy()
    review = Review(hold, ready, policy)
    checker = Checker(policy, check_timeout_s)
    csrf = hmac.new(token.encode(), b"csrf", hashlib.sha256).hexdigest()
    env = Environment(loader=PackageLoader("scrubber", "templates"), autoescape=select_autoescape(["html"]))
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        yield
        checker.close()

    app = FastAPI(title="scrubber", version="1", description="Photo PHI scrubber: review queue and check API.",
                  docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.checker = checker
    css = (Path(__file__).parent / "templates" / "style.css").read_text()

    @app.get("/static/style.css", include_in_schema=False)
    def style():
        return Response(css, media_type="text/css")

    def authorised(request: Request) -> bool:
        given = request.query_params.get("token") or request.cookies.get(COOKIE) or ""
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return hmac.compare_digest(given.encode(), token.encode())

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        if not authorised(request):
            return JSONResponse({"error": "missing or wrong access token: open the URL that 'scrubber serve' "
                                          "printed, or send Authorization: Bearer TOKEN"}, status_code=401)
        if request.method == "POST" and request.url.path != "/v1/check":
            origin = request.headers.get("origin")
            if origin and origin.rstrip("/") != f"{request.url.scheme}://{request.url.netloc}":
                return JSONResponse({"error": "cross-site request refused"}, status_code=403)
        response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self'; style-src 'self'"
        response.headers["Referrer-Policy"] = "same-origin"  # (no-referrer would make Chrome send Origin: null)
        return response

    def page(template: str, request: Request, **ctx) -> HTMLResponse:
        html = env.get_template(template).render(reviewer=request.cookies.get(REVIEWER, ""), csrf=csrf, **ctx)
        return HTMLResponse(html)

    def refuse(message: str, status: int = 403) -> HTMLResponse:
        return HTMLResponse(env.get_template("message.html").render(message=message, reviewer="", csrf=csrf),
                            status_code=status)

    # ------------------------------------------------------------ pages

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def queue(request: Request):
        return page("queue.html", request, items=review.items(), ready=review.ready)

    @app.post("/reviewer", include_in_schema=False)
    def set_reviewer(name: str = Form(""), csrf_token: str = Form("", alias="csrf")):
        if not hmac.compare_digest(csrf_token, csrf):
            return refuse("This form has expired or came from another site. Reload the page and try again.")
        name = " ".join(name.split())[:80]
        if not name:
            return refuse("Type your name to start reviewing.", 400)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(REVIEWER, name, httponly=True, samesite="strict")
        return response

    @app.get("/item/{item_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def item(item_id: str, request: Request, boxes: bool = False):
        held = review.path(item_id)
        if held is None:
            return refuse("No such held photo.", 404)
        info = review.info(held)
        return page("item.html", request, id=item_id, quoted=quote(item_id), name=held.name, info=info,
                    boxes=boxes, decision=audit.decisions(review.hold).get(item_id), ready=review.ready)

    @app.get("/thumb/{item_id:path}", include_in_schema=False)
    def thumb(item_id: str, size: int = 320, boxes: bool = False):
        held = review.path(item_id)
        if held is None:
            return Response(status_code=404)
        try:
            pixels = review.redacted(held, boxes)
        except ImageUnreadable:
            return Response(status_code=404)
        return Response(_jpeg(pixels, min(max(size, 64), 1600)), media_type="image/jpeg")

    @app.post("/item/{item_id:path}/decide", include_in_schema=False)
    def decide(item_id: str, request: Request, action: str = Form(...), reason: str = Form(""),
               confirm: str = Form(""), csrf_token: str = Form("", alias="csrf")):
        if not hmac.compare_digest(csrf_token, csrf):
            return refuse("This form has expired or came from another site. Reload the page and try again.")
        reviewer = request.cookies.get(REVIEWER, "")
        if not reviewer:
            return refuse("Type your name on the queue page before deciding.", 400)
        held = review.path(item_id)
        if held is None:
            return refuse("No such held photo.", 404)
        sha = review.info(held).get("sha256") or hashlib.sha256(held.read_bytes()).hexdigest()
        reason = reason.strip()
        if action == "approve":
            target = review.publish(review.redacted(held), held.name)
            reason = reason or f"redacted copy published as {target.name}"
        elif action == "reject":
            reason = reason or "rejected"
        elif action == "release":
            if confirm.strip() != held.name:
                return refuse(f"To release the original, type its file name ({held.name}) exactly.", 400)
            if not reason:
                return refuse("Releasing the original needs a justification.", 400)
            target = review.publish(load(held, policy.max_pixels).frames[0].pixels, held.name)
            reason = f"{reason} (original published as {target.name}, metadata removed)"
        else:
            return refuse(f"Unknown action '{action}'.", 400)
        audit.append(review.hold, reviewer, item_id, sha, action, reason)
        return RedirectResponse(f"/item/{quote(item_id)}", status_code=303)

    # ------------------------------------------------------------ API

    @app.post("/v1/check", tags=["check"], summary="Check one image",
              responses={200: {"description": "Verdict (same JSON as `scrubber check --json`)"},
                         413: {"description": "Upload too large"}, 415: {"description": "Not an image type"},
                         422: {"description": "Unreadable image or missing field"}})
    def check(file: UploadFile = File(..., description="The image"),
              image: bool = Query(False, description="Also return the redacted image, base64-encoded")):
        data = file.file.read(max_upload + 1)
        if len(data) > max_upload:
            return JSONResponse({"error": f"upload larger than {max_upload} bytes"}, status_code=413)
        ctype = (file.content_type or "").split(";")[0].strip().lower()
        ext = Path(file.filename or "").suffix.lower()
        if ctype not in CONTENT_TYPES and not (ctype == "application/octet-stream" and ext in IMAGE_EXTENSIONS):
            return JSONResponse({"error": f"content type '{ctype or 'none'}' is not an image type "
                                          f"({', '.join(CONTENT_TYPES)})"}, status_code=415)
        if ext not in IMAGE_EXTENSIONS:
            ext = CONTENT_TYPES.get(ctype, ".jpg")
        with tempfile.TemporaryDirectory(prefix="scrubber-check-") as tmp:
            src = Path(tmp) / f"upload{ext}"
            src.write_bytes(data)
            out = Path(tmp) / "safe.jpg" if image else None
            record = checker.scan(src, out)
            record["path"] = Path(file.filename or "upload").name
            if record.get("error"):  # name the upload, not the server's temporary path
                record["error"] = record["error"].replace(str(src), record["path"])
            if out is not None and record.get("output") and out.exists():
                record["image"] = base64.b64encode(out.read_bytes()).decode()
                record["image_type"] = "image/jpeg"
            record.pop("output", None)
        status = 422 if record.get("error") and record.get("reasons", [""])[0] in (
            "unreadable", "too-large") else 200
        return JSONResponse(record, status_code=status)

    return app
