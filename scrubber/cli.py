"""The ``scrubber`` command. The only module that prints or exits.

Every command catches ``ScrubberError`` and prints one line ``scrubber: error: <reason>``
with its exit code; anything else prints ``scrubber: internal error: ...`` and exits 4.
``--debug`` shows tracebacks instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Optional

import typer

from scrubber import __version__

HELP = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(
    name="scrubber",
    help="Find and remove patient identifiers (faces, text, barcodes) from workplace photos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: typer's rich panels print a <bool> type beside every flag
    context_settings=HELP,
)
policy_app = typer.Typer(help="Inspect the redaction policy.", no_args_is_help=True, rich_markup_mode=None,
                         context_settings=HELP)
app.add_typer(policy_app, name="policy")
consent_app = typer.Typer(help="Consent roster: people who signed a photo release stay visible.",
                          no_args_is_help=True, rich_markup_mode=None, context_settings=HELP)
app.add_typer(consent_app, name="consent")
audit_app = typer.Typer(help="The reviewers' audit log.", no_args_is_help=True, rich_markup_mode=None,
                        context_settings=HELP)
app.add_typer(audit_app, name="audit")


class Exit(IntEnum):
    OK = 0  # check: shareable; scan: every file processed
    PHI_FOUND = 1  # check: PHI found and no --out given
    USAGE = 2  # bad option, policy file or output path
    BLOCKED = 3  # check: the image must not be shared
    FAILED = 4  # unreadable input, missing model, internal error; scan: some file not processed
    INTERRUPTED = 130


_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"scrubber {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logging.")] = False,
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = None,
) -> None:
    _state["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.ERROR, format="scrubber: %(levelname)s: %(message)s")


def _fail(message: str, code: int) -> None:
    typer.echo(f"scrubber: error: {message}", err=True)
    raise typer.Exit(code)


def _guard(func):
    """Turn library errors into one line and an exit code (tracebacks only with --debug)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from scrubber.errors import ScrubberError

        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            typer.echo("scrubber: interrupted", err=True)
            raise typer.Exit(Exit.INTERRUPTED) from None
        except ScrubberError as err:
            if _state["debug"]:
                raise
            _fail(str(err), err.exit_code)
        except Exception as err:  # the last line of defence: one line, exit 4, never a traceback
            if _state["debug"]:
                raise
            typer.echo(f"scrubber: internal error: {type(err).__name__}: {err} (rerun with --debug)", err=True)
            raise typer.Exit(Exit.FAILED) from None

    return wrapper


PolicyOpt = Annotated[
    Optional[Path],
    typer.Option("--policy", "-p", help="Policy TOML file (default: built-in policy; see 'scrubber policy show').",
                 dir_okay=False),
]


KeepAudioOpt = Annotated[bool, typer.Option("--keep-audio", help="Video clips: keep the sound track (dropped by "
                                            "default: a voice saying a patient's name is PHI too).")]


def _policy(path: Optional[Path], keep_audio: bool = False):
    from dataclasses import replace

    from scrubber.policy import Policy

    policy = Policy.load(path)
    return replace(policy, keep_audio=True) if keep_audio else policy


# ---------------------------------------------------------------- check


@app.command()
@_guard
def check(
    photos: Annotated[list[Path], typer.Argument(help="The photo(s) to check.", metavar="PHOTO")],
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", help="Where shareable photos go: a file (.jpg, .png or .webp) for one photo, "
                     "or a folder (created if missing), where each safe copy keeps its photo's name."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per photo (a list for several): "
                                          "verdict, reasons, detections, timings.")] = False,
    policy_file: PolicyOpt = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing safe copies.")] = False,
    roster_file: Annotated[Optional[Path], typer.Option(
        "--roster", help="Consent roster for this check (default: the policy's 'roster', else the user's).",
        dir_okay=False)] = None,
    keep_audio: KeepAudioOpt = False,
) -> None:
    """Check photos (or short video clips) before sharing them, and write the safe copies.

    Examples:

        scrubber check team.jpg --out team-safe.jpg

        scrubber check IMG_0412.jpg IMG_0413.jpg --out ready/

        scrubber check team.jpg --json

        scrubber check ward-tour.mov --out ward-tour-safe.mp4

    Exit status: 0 shareable (clean, or redacted and the safe copy written to --out); 1 PHI found and no --out given; 2 usage error; 3 blocked; 4 unreadable or internal error. With several photos, the highest of theirs.
    """
    from scrubber.imageio import MEDIA_EXTENSIONS, OutputFormat, safe_extension
    from scrubber.names import NameScreen
    from scrubber.pipeline import Scrubber
    from scrubber.report import result_record
    from scrubber.scan import plan_flat
    from scrubber.workers import Job, run_job

    policy = _policy(policy_file, keep_audio)
    if roster_file is not None:
        from dataclasses import replace

        policy = replace(policy, roster=str(roster_file))
    as_file = out is not None and not out.is_dir() and (
        OutputFormat.for_path(out) is not None or out.suffix.lower() in MEDIA_EXTENSIONS)
    if as_file and safe_extension(photos[0]) == ".mp4" and out.suffix.lower() != ".mp4":
        _fail(f"{out}: a clip's safe copy is an MP4: end it in .mp4", Exit.USAGE)
    if as_file and safe_extension(photos[0]) != ".mp4" and OutputFormat.for_path(out) is None:
        _fail(f"{out}: the safe copy must end in .jpg, .jpeg, .png or .webp", Exit.USAGE)
    if out is None:
        jobs = [Job(str(photo)) for photo in photos]
    elif not as_file:
        if out.exists() and not out.is_dir():
            _fail(f"{out}: exists and is not a folder; the safe copy must end in .jpg, .jpeg, .png or .webp",
                  Exit.USAGE)
        jobs = plan_flat(photos, out, NameScreen.for_policy(policy), overwrite)
    elif len(photos) > 1:
        _fail(f"{out}: several photos need a folder for --out (their safe copies keep their names)", Exit.USAGE)
    else:
        fmt = OutputFormat.for_path(out)
        jobs = [Job(str(photos[0]), str(out), fmt.value if fmt else None, overwrite=overwrite)]
    for photo, job in zip(photos, jobs):
        if job.out is None:
            continue
        if Path(job.out).exists() and not overwrite:
            _fail(f"{job.out}: already exists (use --overwrite to replace it)", Exit.USAGE)
        if Path(job.out).resolve() == photo.resolve():
            _fail(f"{job.out}: the safe copy cannot replace the original", Exit.USAGE)
    if out is not None and not as_file:
        out.mkdir(parents=True, exist_ok=True)

    scrubber = Scrubber(policy)
    records, worst = [], Exit.OK
    for photo, job in zip(photos, jobs):
        with _frame_progress(photo) as progress:
            result = run_job(scrubber, job, progress)
        code = _check_exit(result, job.out is not None)
        worst = max(worst, code)
        if as_json:
            records.append(result_record(result) | {"exit_code": int(code)})
        else:
            _say_checked(photo, result, job.out is not None)
        _warn_checked(photo, result, job.out is not None)
    if as_json:
        typer.echo(json.dumps(records[0] if len(records) == 1 else records, indent=1))
    raise typer.Exit(worst)


@contextlib.contextmanager
def _frame_progress(photo: Path):
    """A progress bar in frames on stderr, shown once a clip's first frame is scanned (photos
    never call it)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("[bold]frames"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=True)
    task = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task(str(photo), total=total)
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if task is not None:
            bar.stop()


def _check_exit(result, asked_out: bool) -> Exit:
    from scrubber.policy import Status

    if result.error:
        return Exit.FAILED
    if result.status is Status.BLOCKED:
        return Exit.BLOCKED
    if result.status is Status.REDACTED and not asked_out:
        return Exit.PHI_FOUND
    return Exit.OK


def _say_checked(photo: Path, result, asked_out: bool) -> None:
    """``check``'s lines for one photo: the verdict with its reasons, then plain words."""
    from scrubber.words import explain

    reasons = ", ".join(result.reasons) or "nothing found"
    target = f" -> {result.output}" if result.output else ""
    typer.echo(f"{photo}: {result.status.value} ({reasons}){target}")
    for line in explain(result, result.output, asked_out):
        typer.echo(f"  {line}")


def _warn_checked(photo: Path, result, asked_out: bool) -> None:
    """``check``'s one line on stderr for a photo that could not be read or holds PHI unwritten."""
    from scrubber.policy import Status

    if result.error:
        typer.echo(f"scrubber: error: {result.error}", err=True)
    elif result.status is Status.REDACTED and not asked_out:
        from scrubber.words import safe_example

        typer.echo(f"scrubber: PHI found in {photo}: give --out {safe_example(result)} to write a redacted copy",
                   err=True)


# ---------------------------------------------------------------- scan


@app.command()
@_guard
def scan(
    folder: Annotated[Path, typer.Argument(help="Folder of photos.", metavar="FOLDER", exists=True, file_okay=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for safe copies and the reports (report.html, "
                                      "report.json, report.csv).")],
    workers: Annotated[
        int, typer.Option("--workers", "-w", min=0, help="Worker processes (with --cluster local: the cluster's); 0 means one per core.")
    ] = 0,
    recursive: Annotated[bool, typer.Option("--recursive/--no-recursive", help="Descend into subfolders.")] = True,
    policy_file: PolicyOpt = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace existing safe copies and reports in --out.")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Per-file scan time limit in seconds; a "
                                           "scan that takes longer is stopped and the photo blocked.")] = 300.0,
    cluster: Annotated[Optional[str], typer.Option(
        "--cluster", help="Run on Dask: tcp://HOST:8786 (a running scheduler; FOLDER and --out on a filesystem "
        "every worker sees) or local[:N] (N worker processes here). Needs scrubber[cluster].")] = None,
    keep_audio: KeepAudioOpt = False,
) -> None:
    """Scan a folder of photos into safe copies plus report.html, report.json and report.csv.

    Example:

        scrubber scan "Nurses Week 2026" --out "Nurses Week 2026 - safe"

    Shareable copies (clean and redacted) are written under --out mirroring the folder; a blocked photo is never copied.

    Exit status: 0 every file processed; 2 usage error (also: --cluster unreachable); 4 some file could not be processed (it counts as blocked); 130 interrupted.
    """
    import os

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from dataclasses import replace

    from scrubber import scan as batch
    from scrubber.report import summarize, write_html, write_reports

    from rich.markup import escape

    from scrubber.names import NameScreen

    policy = _policy(policy_file, keep_audio)
    problem = batch.check_folders(folder, out)
    if problem:
        _fail(problem, Exit.USAGE)
    if (out / "report.json").exists() and not overwrite:
        _fail(f"{out}: already holds a report from an earlier scan (use --overwrite or another --out)", Exit.USAGE)
    files, skipped = batch.discover(folder, recursive)
    jobs = [replace(job, preview=REPORT_PREVIEW_PX)
            for job in batch.plan(folder, files, out, NameScreen.for_policy(policy), overwrite=overwrite)]
    console = Console(stderr=True)
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if cluster:
            from scrubber.cluster import Cluster

            connected = stack.enter_context(Cluster(cluster, workers))  # unreachable: one line, exit 2

            def execute(on_result):
                return connected.run(jobs, policy, timeout, on_result)
        else:
            def execute(on_result):
                return batch.run(jobs, policy, workers or os.cpu_count() or 1, timeout, on_result)

        out.mkdir(parents=True, exist_ok=True)
        with Progress(TextColumn("[bold]scanning"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      TextColumn("{task.description}"), console=console, transient=False) as progress:
            task = progress.add_task("", total=len(jobs))

            def advance(result) -> None:
                progress.update(task, advance=1, description=escape(f"{result.path}: {result.status.value}"))
                if result.error:
                    progress.console.print(f"scrubber: error: {result.error}", markup=False, highlight=False,
                                           soft_wrap=True)

            results = execute(advance) if jobs else []
    summary = summarize(results, time.perf_counter() - start, skipped)
    json_path, _ = write_reports(results, summary, out, overwrite=True)
    _print_summary(summary, json_path, write_html(results, summary, out, overwrite=True))
    raise typer.Exit(Exit.OK if summary.failed == 0 else Exit.FAILED)


REPORT_PREVIEW_PX = 480  # the longer side of report.html's previews (shown about 360 px wide, inline)


def _print_summary(summary, report: Path, page: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="scrubber scan summary", show_lines=False)
    table.add_column("item")
    table.add_column("count", justify="right")
    table.add_row("images", str(summary.images))
    for status, n in summary.by_status.items():
        table.add_row(f"  {status}", str(n))
    table.add_row("not processed (unreadable / not written)", str(summary.failed))
    table.add_row("other files skipped", str(summary.skipped))
    for kind, n in summary.by_kind.items():
        table.add_row(f"found: {kind}", str(n))
    table.add_row("seconds", f"{summary.seconds:.1f}")
    table.add_row("images/s", f"{summary.per_second:.2f}")
    console = Console(width=100)
    console.print(table)
    console.print(f"report: {report}")
    console.print(f"open in a browser: {page}")


# ---------------------------------------------------------------- watch


@app.command()
@_guard
def watch(
    inbox: Annotated[Path, typer.Argument(help="Folder staff drop photos into (may be on an SMB/NFS share).", metavar="INBOX",
                                          file_okay=False)],
    ready: Annotated[Path, typer.Option("--ready", help="Folder for safe copies (may be on the share).",
                                        file_okay=False)],
    hold: Annotated[Path, typer.Option("--hold", help="Restricted local folder: originals, review, rejected, "
                                       "logs and the state database.", file_okay=False)],
    poll: Annotated[float, typer.Option("--poll", min=0.05, help="Seconds between polls of INBOX.")] = 5.0,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Scan worker processes.")] = 1,
    policy_file: PolicyOpt = None,
    once: Annotated[bool, typer.Option("--once", help="Process what is in INBOX, then exit.")] = False,
    min_age: Annotated[float, typer.Option("--min-age", min=0, help="Seconds a file must be unmodified "
                                           "before it is taken.")] = 5.0,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Per-file scan time limit in seconds; "
                                           "a scan that takes longer is killed and the photo held.")] = 300.0,
    settle: Annotated[float, typer.Option("--settle", min=0, help="Seconds a claimed file must stay unchanged "
                                          "before its original leaves the inbox; a file that changes after its "
                                          "scan (a writer that paused) is scanned again.")] = 30.0,
    keep_audio: KeepAudioOpt = False,
) -> None:
    """Watch INBOX (polling: no change notifications over SMB/NFS) and publish safe copies.

    Example:

        scrubber watch /srv/share/to-post --ready /srv/share/ready --hold /var/lib/scrubber/hold

    A file is taken once its size and mtime held over two polls and --min-age passed. Safe copies go to READY; blocked photos to HOLD/review and non-images to HOLD/rejected, each with a JSON of reasons; every original ends in HOLD/originals. SIGTERM/SIGINT finish the current file and exit 0. State: HOLD/.scrubber/state.db; log: HOLD/logs/watch.log.
    """
    import signal

    from scrubber.watch import Watcher, WatchSettings, file_logger

    policy = _policy(policy_file, keep_audio)
    for folder in (ready, hold):
        if folder.resolve() == inbox.resolve() or inbox.resolve() in folder.resolve().parents:
            _fail(f"{folder}: must not be inside the inbox {inbox}", Exit.USAGE)
    settings = WatchSettings(inbox, ready, hold, poll_s=poll, workers=workers, min_age_s=min_age, timeout_s=timeout,
                             settle_s=settle)
    logger = logging.getLogger("scrubber.watch")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger.addHandler(console)
    watcher = Watcher(settings, policy, on_event=logger.info)
    logger.addHandler(file_logger(hold))

    def stop(signum, frame):
        logger.info("signal %s: finishing the current file, then stopping", signal.Signals(signum).name)
        watcher.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info(f"watching {inbox} every {poll:g} s with {workers} worker(s); ready: {ready}; hold: {hold}")
    done = watcher.run(once=once)
    logger.info(f"stopped after {done} file(s)")
    raise typer.Exit(Exit.OK)


@app.command("status")
@_guard
def watch_status(hold: Annotated[Path, typer.Argument(help="The watcher's HOLD folder.", metavar="HOLD",
                                                      file_okay=False)]) -> None:
    """Print a watcher's counts per outcome, unfinished files, inbox backlog and last activity.

    Example:

        scrubber status /var/lib/scrubber/hold
    """
    from scrubber.watch import status

    st = status(hold)
    if st.running:
        polled = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.last_poll)) if st.last_poll else "not yet"
        typer.echo(f"watcher: running (pid {st.running[0]} on {st.running[1]}); last poll: {polled}")
    else:
        typer.echo("watcher: not running")
    typer.echo(f"inbox: {st.inbox or '?'}")
    for outcome, n in sorted(st.outcomes.items()):
        typer.echo(f"  {outcome:10s} {n}")
    typer.echo(f"review queue: {st.review[0]} waiting for a decision, {st.review[1]} decided")
    typer.echo(f"unfinished: {st.unfinished}")
    typer.echo(f"backlog in inbox: {'?' if st.backlog is None else st.backlog}")
    last = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.last_activity)) if st.last_activity else "never"
    typer.echo(f"last activity: {last}")


# ---------------------------------------------------------------- consent

RosterOpt = Annotated[
    Optional[Path],
    typer.Option("--roster", help="Roster file (default: the policy's 'roster', else ~/.config/scrubber/"
                 "roster.json).", dir_okay=False),
]


def _roster(path: Optional[Path], policy_file: Optional[Path] = None, creating: bool = False):
    from scrubber.consent import Roster

    if path is None and policy_file is not None:
        policy = _policy(policy_file)
        path = Path(policy.roster) if policy.roster else None
    roster = Roster.load(path)
    if roster.warning and not (creating and not roster.path.exists()):
        typer.echo(f"scrubber: warning: {roster.warning}", err=True)
    return roster


def _faces_in(photo: Path, least: float = 0.6):
    """The photo and its faces scoring at least ``least``: the detections of each face
    together (``face_groups``), the largest box first."""
    from scrubber.detect import registry
    from scrubber.detection import face_groups
    from scrubber.imageio import load

    image = load(photo)
    found = []
    for cls in registry.get(["faces-yunet", "faces-dlib"]):
        found.extend(d for d in cls().detect(image.frames[0]) if d.score >= least)
    return image, face_groups(found)


def _plain(faces: list[list], least: float = 0.8) -> list:
    """The faces plainly there, for enrolment, numbered from the left: those YuNet finds at
    ``least`` or more. dlib's HOG takes round things for faces (an astronaut's mission patch,
    0.9) and YuNet's small-face level scores textures up to 0.6 (her glove, in a 2400-px copy)."""
    plain = [g[0] for g in faces if any(d.source == "faces-yunet" and d.score >= least for d in g)]
    return sorted(plain, key=lambda d: (d.box.x0, d.box.y0))


def _where(faces: list, image) -> str:
    """``1: upper left, 212 px tall; 2: ...`` for the faces numbered as ``--face`` counts them."""
    from scrubber.words import place

    return "; ".join(f"{i}: {place(d.box, image.width, image.height)}, {d.box.height} px tall"
                     for i, d in enumerate(faces, 1))


def _numbered_preview(pixels, faces: list, dest: Path) -> None:
    """A JPEG of ``pixels`` (no metadata) with each face boxed and numbered as ``--face`` counts."""
    import cv2

    from scrubber import outputs
    from scrubber.imageio import OutputFormat, encode

    out = pixels.copy()
    thick = max(2, out.shape[1] // 400)
    for i, d in enumerate(faces, 1):
        cv2.rectangle(out, (d.box.x0, d.box.y0), (d.box.x1, d.box.y1), (255, 200, 0), thick)
        size = max(0.8, d.box.height / 60)
        (tw, th), _ = cv2.getTextSize(str(i), cv2.FONT_HERSHEY_SIMPLEX, size, thick)
        y = d.box.y0 - thick if d.box.y0 > th + 2 * thick else d.box.y1 + th + thick
        cv2.rectangle(out, (d.box.x0, y - th - thick), (d.box.x0 + tw + 2 * thick, y + thick), (255, 200, 0), -1)
        cv2.putText(out, str(i), (d.box.x0 + thick, y), cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), thick)
    outputs.write(encode(out, OutputFormat.JPEG), dest, overwrite=True)


@consent_app.command("add")
@_guard
def consent_add(
    name: Annotated[str, typer.Argument(help="The person's name as it should appear in reports.", metavar="NAME")],
    photos: Annotated[list[Path], typer.Argument(help="One or more photos of the person.", metavar="PHOTO")],
    expires: Annotated[Optional[str], typer.Option("--expires", help="Last day of consent, YYYY-MM-DD.")] = None,
    note: Annotated[str, typer.Option("--note", help="Free text, e.g. where the signed release is filed.")] = "",
    face: Annotated[Optional[int], typer.Option("--face", min=1, help="In a photo of several people: the number "
                                                "of the face to enrol (numbered from the left; see --preview).")]
    = None,
    preview: Annotated[Optional[Path], typer.Option("--preview", dir_okay=False, help="Write a copy of the first "
                                                    "photo with its faces numbered (JPEG) and enrol nobody.")]
    = None,
    roster_file: RosterOpt = None,
) -> None:
    """Enrol a person from photos of them. Only face encodings are stored, never the photos.

    A photo showing several people needs --face N: the command lists the faces it found, numbered
    from the left, and --preview FILE draws those numbers on a copy of the photo.

    Examples:

        scrubber consent add "Grace Hopper" grace.jpg --expires 2027-12-31 --note "release in HR file 114"

        scrubber consent add "Grace Hopper" team.jpg --preview faces.jpg

        scrubber consent add "Grace Hopper" team.jpg --face 2
    """
    import datetime as dt

    from scrubber.consent import ConsentError, encode_face

    try:
        until = dt.date.fromisoformat(expires) if expires else None
    except ValueError:
        _fail(f"--expires {expires!r}: use YYYY-MM-DD", Exit.USAGE)
    if until is not None and until < dt.date.today():
        _fail(f"--expires {expires}: that day has passed; consent would never apply", Exit.USAGE)
    roster = _roster(roster_file, creating=True)
    if roster.warning and roster.path.exists():
        raise ConsentError(f"{roster.path}: the roster is unreadable; fix or move it before enrolling (it would be "
                           "overwritten)")
    if preview is not None:
        image, faces = _faces_in(photos[0])
        _numbered_preview(image.frames[0].pixels, _plain(faces), preview)
        typer.echo(f"{preview}: {len(_plain(faces))} face(s) numbered; enrol one with --face N")
        return
    encodings = []
    for photo in photos:
        image, faces = _faces_in(photo)
        faces = _plain(faces)
        if not faces:
            raise ConsentError(f"{photo}: no face found; enrol from photos that show the person's face")
        if face is None and len(faces) > 1:
            raise ConsentError(f"{photo}: {len(faces)} faces found ({_where(faces, image)}); pick one with "
                               "--face N (--preview FILE draws the numbers)")
        if face is not None and face > len(faces):
            raise ConsentError(f"{photo}: --face {face}, but {len(faces)} face(s) were found ({_where(faces, image)})")
        chosen = faces[(face or 1) - 1]
        if chosen.box.height < 80:
            raise ConsentError(f"{photo}: the face is {chosen.box.height} px tall; at least 80 px are needed")
        enc = encode_face(image.frames[0].pixels, chosen.box)
        if enc is None:
            raise ConsentError(f"{photo}: the face could not be encoded")
        encodings.append(enc)
    roster = roster.add(name, encodings, until, note)
    roster.save()
    typer.echo(f"{name}: enrolled from {len(encodings)} photo(s) into {roster.path}"
               + (f", consent until {until}" if until else ""))


@consent_app.command("list")
@_guard
def consent_list(roster_file: RosterOpt = None) -> None:
    """List roster entries with their status (active, expired, revoked).

    Example:

        scrubber consent list
    """
    import datetime as dt

    roster = _roster(roster_file)
    today = dt.date.today()
    for e in roster.entries:
        typer.echo(f"{e.name}\t{e.status(today)}\t{len(e.encodings)} encoding(s)\texpires {e.expires or 'never'}"
                   + (f"\t{e.note}" if e.note else ""))
    typer.echo(f"{len(roster.entries)} entr{'y' if len(roster.entries) == 1 else 'ies'} in {roster.path}")


@consent_app.command("revoke")
@_guard
def consent_revoke(name: Annotated[str, typer.Argument(help="The roster entry to revoke.", metavar="NAME")],
                   roster_file: RosterOpt = None) -> None:
    """Withdraw a person's consent: from now on their face is obscured like everyone else's.
    The entry and its face encodings stay in the roster, for the record (see forget).

    Example:

        scrubber consent revoke "Grace Hopper"
    """
    roster = _roster(roster_file).revoke(name)
    roster.save()
    typer.echo(f"{roster.entry(name).name}: consent revoked in {roster.path}")


@consent_app.command("forget")
@_guard
def consent_forget(name: Annotated[str, typer.Argument(help="The roster entry to delete.", metavar="NAME")],
                   roster_file: RosterOpt = None) -> None:
    """Delete a person's entry and face encodings from the roster (revoke keeps them).

    Example:

        scrubber consent forget "Grace Hopper"
    """
    roster = _roster(roster_file)
    who = roster.entry(name).name
    roster = roster.forget(name)
    roster.save()
    typer.echo(f"{who}: entry and face encodings deleted from {roster.path}")


@consent_app.command("check")
@_guard
def consent_check(photo: Annotated[Path, typer.Argument(help="The photo to check.", metavar="PHOTO")],
                  roster_file: RosterOpt = None, policy_file: PolicyOpt = None) -> None:
    """Show who in a photo is on the roster, with distances, and which faces would stay visible.

    Example:

        scrubber consent check team.jpg
    """
    from scrubber.consent import encode_face

    policy = _policy(policy_file)
    roster = _roster(roster_file, policy_file)
    image, faces = _faces_in(photo, policy.face_threshold)
    if not faces:
        typer.echo(f"{photo}: no faces")
    for f in (group[0] for group in faces):
        big = f.box.height >= policy.consent_min_face
        d = roster.decide(encode_face(image.frames[0].pixels, f.box) if big else None, f.box.height,
                          policy.consent_threshold, policy.consent_min_face)
        who = f"{d.entry} (distance {d.distance:.3f})" if d.entry else "nobody on the roster"
        typer.echo(f"face at {list(f.box.as_tuple())}: {'KEEP visible' if d.keep else 'obscure'}: {d.reason}; "
                   f"nearest: {who}")


# ---------------------------------------------------------------- serve and audit


@app.command()
@_guard
def serve(
    hold: Annotated[Path, typer.Argument(help="The watcher's HOLD folder (photos held in HOLD/review).", metavar="HOLD",
                                         file_okay=False)],
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0 picks a free one).")] = 8765,
    ready: Annotated[Optional[Path], typer.Option("--ready", help="Where approved and released photos go.",
                                                  file_okay=False)] = None,
    policy_file: PolicyOpt = None,
    allow_remote: Annotated[bool, typer.Option("--allow-remote", help="Allow binding to a non-loopback address.")]
    = False,
    max_upload_mb: Annotated[int, typer.Option("--max-upload-mb", min=1, help="Largest upload /v1/check "
                                               "accepts.")] = 25,
    check_timeout: Annotated[float, typer.Option("--check-timeout", min=1, help="Per-request scan limit "
                                                 "(seconds) for /v1/check.")] = 60.0,
) -> None:
    """Serve the review queue, a "Check a photo" page and POST /v1/check on HOST:PORT.

    Prints a URL carrying a fresh access token; open it in a browser.

    Examples:

        scrubber serve /var/lib/scrubber/hold --ready /srv/share/ready

        curl -H "Authorization: Bearer TOKEN" -F file=@team.jpg http://127.0.0.1:8765/v1/check
    """
    import ipaddress
    import secrets
    import socket

    import uvicorn

    from scrubber.serve import create_app

    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not allow_remote:
        _fail(f"--host {host}: not a loopback address; add --allow-remote to serve other machines", Exit.USAGE)
    if not hold.is_dir():
        _fail(f"{hold}: no such HOLD folder", Exit.USAGE)
    token = secrets.token_urlsafe(24)
    app_ = create_app(hold, token, ready=ready, policy=_policy(policy_file),
                      max_upload=max_upload_mb * 1024 * 1024, check_timeout_s=check_timeout)
    app_.state.checker.start()  # a worker whose self test fails stops the start here, with its reason
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        _fail(f"{host}:{port}: cannot listen ({err.strerror or err})", Exit.USAGE)
    sock.listen(128)
    port = sock.getsockname()[1]
    if not loopback:
        typer.echo(f"scrubber: warning: serving on {host}: anyone who can reach it and has the token can see "
                   "held photos", err=True)
    shown = f"[{host}]" if ":" in host else host
    config = uvicorn.Config(app_, log_level="warning")
    server = uvicorn.Server(config)
    # the URL is printed once the socket listens: a script may connect as soon as it reads it
    typer.echo(f"scrubber review queue: http://{shown}:{port}/?token={token}", err=False)
    sys.stdout.flush()
    server.run(sockets=[sock])


@audit_app.command("verify")
@_guard
def audit_verify(hold: Annotated[Path, typer.Argument(help="The HOLD folder holding audit.jsonl.", metavar="HOLD",
                                                      file_okay=False)]) -> None:
    """Check the audit log's hash chain. Exit 0 intact, 3 broken.

    Example:

        scrubber audit verify /var/lib/scrubber/hold
    """
    from scrubber import audit

    result = audit.verify(hold)
    if result.ok:
        typer.echo(f"{audit.log_path(hold)}: chain intact ({result.lines} decisions)")
        raise typer.Exit(Exit.OK)
    typer.echo(f"scrubber: error: {audit.log_path(hold)}: {result.problem}", err=True)
    raise typer.Exit(Exit.BLOCKED)


# ---------------------------------------------------------------- policy


@policy_app.command("show")
@_guard
def policy_show(policy_file: PolicyOpt = None) -> None:
    """Print the effective policy as TOML (built-in defaults overlaid with --policy).

    Example:

        scrubber policy show --policy clinic.toml
    """
    typer.echo(_policy(policy_file).to_toml(), nl=False)


def run() -> None:  # console-script entry point
    app()


if __name__ == "__main__":
    sys.exit(run())
