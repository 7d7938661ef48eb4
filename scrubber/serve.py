"""``scrubber serve HOLD``: the review queue in a browser and an HTTP check endpoint.

* Every request needs the access token printed at start: ``?token=`` (which also sets an
  HttpOnly, SameSite=Strict cookie), the cookie, or ``Authorization: Bearer``. Without it: 401.
* Forms that change state carry a CSRF value derived from the token and are refused when the
  ``Origin`` header names another site.
* The queue shows *redacted* previews only: the pipeline's own verified redaction of the held
  photo, with what the policy blocks redacted instead (``Policy.for_review``); the raw original
  is never sent to the browser. A photo whose scan never finished (timeout, crashed worker,
  detector error) has no preview beyond a placeholder and cannot be approved.
* File names are shown screened (``scrubber.names``).
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
import os
import tempfile
import threading
import uuid
from pathlib import Path
from urllib.parse import quote

import numpy as np
from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from scrubber import audit, outputs
from scrubber.errors import ImageUnreadable, OutputExists
from scrubber.imageio import IMAGE_EXTENSIONS, OutputFormat, decode_own, encode, load, sha256_file
from scrubber.names import NameScreen
from scrubber.pipeline import Result
from scrubber.policy import Policy, Status
from scrubber.state import inside
from scrubber.workers import Job, Pool

COOKIE = "scrubber_token"
REVIEWER = "scrubber_reviewer"
CONTENT_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/tiff": ".tif",
                 "image/gif": ".gif", "image/bmp": ".bmp", "image/heic": ".heic", "image/heif": ".heif"}


# reasons that mean the scan never finished: there is no redacted copy to show or approve
UNSCANNED = ("timeout", "worker-crashed", "memory-limit", "internal-error", "worker-failed", "detector-error",
             "recognizer-error", "verify:detector-error", "verify:recognizer-error", "unreadable", "too-large",
             "not-an-image", "sidecar-unreadable", "sidecar-missing")


def fully_scanned(info: dict) -> bool:
    """Did the held photo's scan finish (every detector ran)? A missing or unreadable sidecar
    says nothing, so it is no."""
    reasons = info.get("reasons")
    if not isinstance(reasons, list) or not reasons:
        return False
    return not any(str(r) == u or str(r).startswith(u + ":") for r in reasons for u in UNSCANNED)


class Review:
    """The held photos in HOLD/review and what can be done with them. A preview, and the copy
    an approval publishes, is the pipeline's own verified redaction (``Policy.for_review``, in
    the checker's worker process), cached privately in ``HOLD/.scrubber/previews``; a photo
    whose scan never finished has neither."""

    def __init__(self, hold: Path, ready: Path | None, policy: Policy, checker: "Checker"):
        self.hold, self.ready, self.policy = Path(hold), Path(ready) if ready else None, policy
        self.folder = self.hold / "review"
        self.checker = checker
        self.screen = NameScreen.for_policy(policy)
        self.cache = self.hold / ".scrubber" / "previews"

    def items(self) -> list[dict]:
        done = audit.decisions(self.hold)
        out = []
        for sidecar in sorted(self.folder.rglob("*.json")):
            held = sidecar.with_suffix("")
            if not held.is_file() or held.is_symlink():
                continue
            info = self.info(held)
            item_id = held.relative_to(self.folder).as_posix()
            out.append({"id": item_id, "quoted": quote(item_id), "name": self.display(held), "info": info,
                        "reasons": info.get("reasons") or [], "decision": done.get(item_id),
                        "scanned": fully_scanned(info)})
        return out

    def display(self, held: Path) -> str:
        return self.screen.screen(held.name).display

    def path(self, item_id: str) -> Path | None:
        held = inside(self.folder, item_id)
        if held is None or not held.is_file() or held.is_symlink() or held.suffix == ".json":
            return None
        return held

    def info(self, held: Path) -> dict:
        try:
            info = json.loads(held.with_name(held.name + ".json").read_text())
            return info if isinstance(info, dict) else {"reasons": ["sidecar-unreadable"]}
        except FileNotFoundError:
            return {"reasons": ["sidecar-missing"]}
        except (OSError, ValueError):
            return {"reasons": ["sidecar-unreadable"]}

    def preview(self, held: Path) -> tuple[bytes | None, str]:
        """The verified redacted copy of ``held`` (encoded), or None and why there is none."""
        info = self.info(held)
        if not fully_scanned(info):
            return None, "never fully scanned: " + ", ".join(map(str, info.get("reasons") or ["no record"]))
        fmt = OutputFormat.for_path(held) or OutputFormat.PNG
        outputs.private_dir(self.cache)
        sha = sha256_file(held)
        copy, refused = self.cache / f"{sha}{fmt.extension}", self.cache / f"{sha}.refused"
        if copy.is_file():
            return copy.read_bytes(), ""
        if refused.is_file():
            return None, refused.read_text()
        tmp = self.cache / f"{sha}.{uuid.uuid4().hex[:8]}{fmt.extension}"
        try:
            result = self.checker.scan(held, tmp, fmt, display=self.display(held), review=True)
            if result.status in (Status.CLEAN, Status.REDACTED) and result.output and tmp.is_file():
                os.replace(tmp, copy)
                return copy.read_bytes(), ""
            why = "no verified redaction: " + ", ".join(result.reasons or ("unknown",))
            if result.reasons and result.reasons[0] not in ("timeout", "worker-crashed", "memory-limit"):
                outputs.write(why.encode(), refused, overwrite=True, private=True)
            return None, why
        finally:
            tmp.unlink(missing_ok=True)

    def publish(self, data: bytes, held: Path) -> Path:
        if self.ready is None:
            raise OutputExists("no READY folder: start the server with --ready READY to approve or release")
        fmt = OutputFormat.for_path(held) or OutputFormat.PNG
        rel = self.screen.screen(held.name).relpath(sha256_file(held), fmt.extension)
        return outputs.write_free(data, self.ready / rel)


def _placeholder(text: str, width: int = 640) -> np.ndarray:
    import cv2

    px = np.full((width * 5 // 8, width, 3), 200, np.uint8)
    cv2.putText(px, "No redacted preview", (24, 70), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (60, 60, 60), 2)
    for i, line in enumerate([text[k : k + 48] for k in range(0, min(len(text), 192), 48)]):
        cv2.putText(px, line, (24, 130 + 36 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (60, 60, 60), 1)
    return px


def _with_boxes(pixels: np.ndarray, detections: list) -> np.ndarray:
    """Labelled boxes of the sidecar's detections drawn on a redacted preview."""
    import cv2

    out = pixels.copy()
    width = out.shape[1]
    for d in detections:
        try:
            x0, y0, x1, y1 = (int(v) for v in d["box"])
            label = f"{d['kind']}{':' + d['label'] if d.get('label') else ''} {float(d['score']):.2f}"
        except (KeyError, TypeError, ValueError):
            continue
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 40, 40), max(2, width // 400))
        cv2.putText(out, label, (x0, max(12, y0 - 6)), cv2.FONT_HERSHEY_SIMPLEX, max(0.5, width / 1600),
                    (255, 40, 40), max(1, width // 800))
    return out


def _jpeg(pixels: np.ndarray, max_side: int) -> bytes:
    from PIL import Image

    img = Image.fromarray(pixels)
    img.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


class Checker:
    """Scans in a one-worker ``workers.Pool`` with a time limit (requests take turns)."""

    def __init__(self, policy: Policy, timeout_s: float):
        self.policy, self.timeout_s = policy, timeout_s
        self._pool: Pool | None = None
        self._lock = threading.Lock()

    def start(self) -> Pool:
        """Start the worker now (its self test refuses to start a server that cannot scan)."""
        with self._lock:
            if self._pool is None:
                self._pool = Pool(self.policy, 1, self.timeout_s)
            return self._pool

    def scan(self, source: Path, out: Path | None, fmt: OutputFormat | None = None, display: str | None = None,
             review: bool = False) -> Result:
        fmt = fmt or (OutputFormat.JPEG if out else None)
        job = Job(str(source), str(out) if out else None, fmt.value if fmt else None, display, review)
        return self.start().submit(job).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


class UploadLimit:
    """ASGI middleware: a POST to ``path`` may carry at most ``limit`` bytes of body. A larger
    Content-Length is refused before anything is read; a body that runs past the limit is
    refused as soon as it does (nothing past it is read or spooled)."""

    def __init__(self, app, limit: int, path: str = "/v1/check"):
        self.app, self.limit, self.path = app, limit, path

    async def _refuse(self, send) -> None:
        body = json.dumps({"error": f"upload larger than {self.limit} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._refuse(send)
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            total += len(chunks[-1])
            if total > self.limit:
                return await self._refuse(send)
            if not message.get("more_body"):
                break
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


def create_app(hold: Path, token: str, ready: Path | None = None, policy: Policy | None = None,
               max_upload: int = 25 * 1024 * 1024, check_timeout_s: float = 60.0) -> FastAPI:
    policy = policy or Policy()
    checker = Checker(policy, check_timeout_s)
    review = Review(hold, ready, policy, checker)
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
    app.add_middleware(UploadLimit, limit=max_upload + 1024 * 1024)  # the form's own bytes on top
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
        return page("item.html", request, id=item_id, quoted=quote(item_id), name=review.display(held), info=info,
                    boxes=boxes, decision=audit.decisions(review.hold).get(item_id), ready=review.ready,
                    scanned=fully_scanned(info))

    @app.get("/thumb/{item_id:path}", include_in_schema=False)
    def thumb(item_id: str, size: int = 320, boxes: bool = False):
        held = review.path(item_id)
        if held is None:
            return Response(status_code=404)
        data, why = review.preview(held)
        if data is None:
            pixels = _placeholder(why)
        else:
            pixels = decode_own(data)
            if boxes:
                pixels = _with_boxes(pixels, review.info(held).get("detections") or [])
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
        sha = sha256_file(held)
        reason = reason.strip()
        name = review.display(held)
        if action in ("approve", "release") and review.ready is None:
            return refuse("No READY folder: start the server with --ready READY to approve or release.", 400)
        if action == "approve":
            data, why = review.preview(held)
            if data is None:
                return refuse(f"{name} has no verified redacted copy to approve ({why}). Reject it, or release "
                              "the original with a justification.", 409)
            target = review.publish(data, held)
            reason = reason or f"verified redacted copy published as {target.name}"
        elif action == "reject":
            reason = reason or "rejected"
        elif action == "release":
            if confirm.strip() != name:
                return refuse(f"To release the original, type its file name ({name}) exactly.", 400)
            if not reason:
                return refuse("Releasing the original needs a justification.", 400)
            try:
                image = load(held, policy.max_pixels, policy.max_bytes, policy.max_total_pixels)
            except ImageUnreadable as err:
                return refuse(f"{name} cannot be read, so it cannot be released ({err.reason}).", 409)
            fmt = OutputFormat.for_path(held) or OutputFormat.PNG
            target = review.publish(encode(image.frames[0].pixels, fmt, policy.jpeg_quality), held)
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
        from scrubber.report import result_record

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
        display = review.screen.screen(Path(file.filename or "upload").name or "upload").display
        with tempfile.TemporaryDirectory(prefix="scrubber-check-") as tmp:
            src = Path(tmp) / f"upload{ext}"
            src.write_bytes(data)
            out = Path(tmp) / "safe.jpg" if image else None
            record = result_record(checker.scan(src, out, display=display))
            record["path"] = display
            if out is not None and record.get("output") and out.exists():
                record["image"] = base64.b64encode(out.read_bytes()).decode()
                record["image_type"] = "image/jpeg"
            record.pop("output", None)
        status = 422 if record.get("error") and record.get("reasons", [""])[0] in (
            "unreadable", "too-large") else 200
        return JSONResponse(record, status_code=status)

    return app
