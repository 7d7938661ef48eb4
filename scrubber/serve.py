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
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np
from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from scrubber import audit, outputs, preview, words
from scrubber.errors import ImageUnreadable, OutputExists
from scrubber.imageio import IMAGE_EXTENSIONS, OutputFormat, decode_own, encode, load, sha256_file
from scrubber.marks import marks
from scrubber.names import NameScreen
from scrubber.pipeline import Result
from scrubber.policy import Policy, Status
from scrubber.report import from_record, result_record
from scrubber.state import inside
from scrubber.workers import Job, Pool

COOKIE = "scrubber_token"
REVIEWER = "scrubber_reviewer"
CONTENT_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/tiff": ".tif",
                 "image/gif": ".gif", "image/bmp": ".bmp", "image/heic": ".heic", "image/heif": ".heif"}


def fully_scanned(info: dict) -> bool:
    """Did the held photo's scan finish (every detector ran)? A missing or unreadable sidecar
    says nothing, so it is no."""
    reasons = info.get("reasons")
    return isinstance(reasons, list) and preview.fully_scanned(reasons)


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
        for item_id, held in audit.held_items(self.hold):
            info = self.info(held)
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


CHECK_PREVIEW_PX = 1200  # the longer side of the check page's redacted picture


@dataclass(frozen=True)
class Checked:
    """An uploaded image's scan: the result, its screened name and the safe copy's bytes; or
    why it was refused before any scan, with the HTTP status to answer."""

    result: Result | None = None
    name: str = ""
    copy: bytes | None = None
    refused: str | None = None
    status: int = 200


def _data_url(data: bytes | None, mime: str) -> str | None:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}" if data else None


def _safe_name(display: str, fmt: OutputFormat) -> str:
    """The download's file name: the upload's screened name (masked where it held an identifier,
    then only its letters, digits, dots, dashes and underscores) with ``-safe``."""
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(display).stem.replace("*", ""))
    return f"{stem.strip('._') or 'photo'}-safe{fmt.extension}"


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
             review: bool = False, preview: int = 0) -> Result:
        fmt = fmt or (OutputFormat.JPEG if out else None)
        job = Job(str(source), str(out) if out else None, fmt.value if fmt else None, display, review,
                  preview=preview)
        return self.start().submit(job).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


class UploadLimit:
    """ASGI middleware: a POST to one of ``paths`` may carry at most ``limit`` bytes of body. A larger
    Content-Length is refused before anything is read; a body that runs past the limit is
    refused as soon as it does (nothing past it is read or spooled)."""

    def __init__(self, app, limit: int, paths: tuple[str, ...] = ("/v1/check", "/check")):
        self.app, self.limit, self.paths = app, limit, paths

    async def _refuse(self, send) -> None:
        body = json.dumps({"error": f"upload larger than {self.limit} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
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
    deciding = threading.Lock()
    csrf = hmac.new(token.encode(), b"csrf", hashlib.sha256).hexdigest()
    env = Environment(loader=PackageLoader("scrubber", "templates"), autoescape=select_autoescape(["html"]))
    env.globals["done_words"] = {"approve": "approved", "reject": "rejected", "release": "released"}
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
    script = (Path(__file__).parent / "templates" / "check.js").read_text()

    @app.get("/static/style.css", include_in_schema=False)
    def style():
        return Response(css, media_type="text/css")

    @app.get("/static/check.js", include_in_schema=False)
    def check_script():
        return Response(script, media_type="text/javascript")

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
        if "content-security-policy" not in response.headers:
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
        items = review.items()
        return page("queue.html", request, items=items, ready=review.ready,
                    waiting=sum(not it["decision"] for it in items))

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
    def item(item_id: str, request: Request):
        held = review.path(item_id)
        if held is None:
            return refuse("No such held photo.", 404)
        info = review.info(held)
        scanned, held_result = fully_scanned(info), from_record(info)
        return page("item.html", request, id=item_id, quoted=quote(item_id), name=review.display(held), info=info,
                    marks=marks(held_result) if scanned else [], width=held_result.width, height=held_result.height,
                    decision=audit.decisions(review.hold).get(item_id), ready=review.ready, scanned=scanned,
                    todo=words.why_blocked(held_result))

    @app.get("/thumb/{item_id:path}", include_in_schema=False)
    def thumb(item_id: str, size: int = 320):
        held = review.path(item_id)
        if held is None:
            return Response(status_code=404)
        data, why = review.preview(held)
        pixels = _placeholder(why) if data is None else decode_own(data)
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
        with deciding:  # one decision at a time: a double click must not publish twice
            return _decide(item_id, held, sha, name, action, reason, confirm, reviewer)

    def _decide(item_id: str, held: Path, sha: str, name: str, action: str, reason: str, confirm: str,
                reviewer: str):
        earlier = audit.published(review.hold, item_id, sha)
        if action in ("approve", "release") and earlier:
            return refuse(f"{name} was already published ({earlier['action']} by {earlier['reviewer']} at "
                          f"{earlier['time']}): nothing was published again.", 409)
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
        checked = scan_upload(file, keep_copy=image)
        if checked.refused:
            return JSONResponse({"error": checked.refused}, status_code=checked.status)
        record = result_record(checked.result) | {"path": checked.name}
        record.pop("output", None)
        if checked.copy is not None:
            record["image"] = base64.b64encode(checked.copy).decode()
            record["image_type"] = "image/jpeg"
        return JSONResponse(record, status_code=checked.status)

    def scan_upload(file: UploadFile, keep_copy: bool, fmt: OutputFormat | None = None,
                    preview_px: int = 0) -> "Checked":
        """Scan an uploaded image in a temporary folder that is gone before the answer is sent."""
        data = file.file.read(max_upload + 1)
        if len(data) > max_upload:
            return Checked(refused=f"upload larger than {max_upload} bytes", status=413)
        ctype = (file.content_type or "").split(";")[0].strip().lower()
        ext = Path(file.filename or "").suffix.lower()
        if ctype not in CONTENT_TYPES and not (ctype == "application/octet-stream" and ext in IMAGE_EXTENSIONS):
            return Checked(refused=f"content type '{ctype or 'none'}' is not an image type "
                                   f"({', '.join(CONTENT_TYPES)})", status=415)
        if ext not in IMAGE_EXTENSIONS:
            ext = CONTENT_TYPES.get(ctype, ".jpg")
        name = review.screen.screen(Path(file.filename or "upload").name or "upload").display
        with tempfile.TemporaryDirectory(prefix="scrubber-check-") as tmp:
            src = Path(tmp) / f"upload{ext}"
            src.write_bytes(data)
            fmt = fmt or OutputFormat.JPEG
            out = Path(tmp) / f"safe{fmt.extension}" if keep_copy else None
            result = checker.scan(src, out, fmt, display=name, preview=preview_px)
            copy = out.read_bytes() if out is not None and result.output and out.exists() else None
        status = 422 if result.error and result.reasons[:1] in (("unreadable",), ("too-large",)) else 200
        return Checked(result, name, copy, status=status)

    # ------------------------------------------------------------ check a photo in the browser

    @app.get("/check", response_class=HTMLResponse, include_in_schema=False)
    def check_page(request: Request):
        return page("check.html", request, checked=None)

    @app.post("/check", response_class=HTMLResponse, include_in_schema=False)
    def check_upload(request: Request, file: UploadFile = File(...), csrf_token: str = Form("", alias="csrf")):
        if not hmac.compare_digest(csrf_token, csrf):
            return refuse("This form has expired or came from another site. Reload the page and try again.")
        fmt = OutputFormat.for_path(Path(file.filename or "")) or OutputFormat.JPEG
        checked = scan_upload(file, keep_copy=True, fmt=fmt, preview_px=CHECK_PREVIEW_PX)
        if checked.refused:
            return page("check.html", request, checked=None, refused=checked.refused)
        result = checked.result
        shown = {"verdict": words.verdict(result), "status": result.status.value, "name": checked.name,
                 "lines": words.explain(result, None, True), "marks": marks(result),
                 "width": result.width, "height": result.height,
                 "preview": _data_url(result.preview, "image/jpeg"),
                 "safe_copy": _data_url(checked.copy, fmt.mime), "filename": _safe_name(checked.name, fmt)}
        response = page("check.html", request, checked=shown)
        response.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data:; style-src 'self'")
        response.headers["Cache-Control"] = "no-store"
        return response

    return app
