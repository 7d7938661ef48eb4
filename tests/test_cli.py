"""The command line, through typer's CliRunner: exit codes, one-line errors, JSON."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from scrubber.cli import app
from tests.conftest import CLINIC_POLICY, SAMPLES

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_help_and_version():
    assert _run("--help").exit_code == 0
    r = _run("--version")
    assert r.exit_code == 0 and r.stdout.startswith("scrubber ")


def test_policy_show_prints_the_effective_policy():
    r = _run("policy", "show", "--policy", CLINIC_POLICY)
    assert r.exit_code == 0
    assert 'allowlist = ["Riverside Family Clinic", "(555) 010-0199"]' in r.stdout
    assert 'face = "blur"' in r.stdout


def test_check_clean_photo_exits_0():
    r = _run("check", SAMPLES / "banner_clean_text.jpg", "--policy", CLINIC_POLICY)
    assert r.exit_code == 0, r.output
    assert "clean" in r.stdout


def test_check_phi_without_out_exits_1_and_with_out_exits_0(tmp_path):
    r = _run("check", SAMPLES / "wristband.jpg")
    assert r.exit_code == 1 and "redacted" in r.stdout
    safe = tmp_path / "safe.jpg"
    r = _run("check", SAMPLES / "wristband.jpg", "--out", safe)
    assert r.exit_code == 0 and safe.exists()
    r = _run("check", SAMPLES / "wristband.jpg", "--out", safe)  # again: never overwrite silently
    assert r.exit_code == 2 and "already exists" in r.stderr


def test_check_blocked_exits_3(tmp_path):
    policy = tmp_path / "strict.toml"
    policy.write_text('[actions]\nbarcode = "block"\n')
    r = _run("check", SAMPLES / "wristband.jpg", "--policy", policy, "--out", tmp_path / "s.jpg")
    assert r.exit_code == 3 and "blocked" in r.stdout and "block:barcode" in r.stdout
    assert not (tmp_path / "s.jpg").exists()


def test_check_json_has_verdict_reasons_detections_timings_and_no_phi():
    r = _run("check", SAMPLES / "wristband.jpg", "--json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["verdict"] == "redacted" and doc["exit_code"] == 1
    assert {"reasons", "detections", "timings", "sha256"} <= set(doc)
    labels = {d["label"] for d in doc["detections"] if d["kind"] == "identifier"}
    assert {"NAME", "DATE", "MRN"} <= labels
    for secret in ("HALVORSEN", "00734519", "08/21/1962"):
        assert secret not in r.stdout
    assert "H********, E***" in r.stdout


def test_check_usage_errors_exit_2(tmp_path):
    assert _run("check").exit_code == 2
    r = _run("check", SAMPLES / "wristband.jpg", "--out", tmp_path / "safe.gif")
    assert r.exit_code == 2 and "must end in" in r.stderr
    bad_policy = tmp_path / "p.toml"
    bad_policy.write_text("nonsense_key = 1\n")
    r = _run("check", SAMPLES / "wristband.jpg", "--policy", bad_policy)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "unknown policy key" in r.stderr


def _bad_inputs(tmp_path):
    """Each bad-input class, as a file on disk."""
    files = {}
    (tmp_path / "zero.jpg").write_bytes(b"")
    files["zero-byte"] = tmp_path / "zero.jpg"
    buf = io.BytesIO()
    Image.open(SAMPLES / "wristband.jpg").save(buf, "JPEG")
    (tmp_path / "trunc.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    files["truncated"] = tmp_path / "trunc.jpg"
    (tmp_path / "notes.jpg").write_text("Patient: John Smith")
    files["not-an-image"] = tmp_path / "notes.jpg"
    files["missing"] = tmp_path / "missing.jpg"
    (tmp_path / "folder.jpg").mkdir()
    files["directory"] = tmp_path / "folder.jpg"
    Image.new("L", (12000, 9000)).save(tmp_path / "huge.png")  # 108 MP > 80 MP default limit
    files["huge"] = tmp_path / "huge.png"
    return files


@pytest.mark.parametrize(
    "kind", ["zero-byte", "truncated", "not-an-image", "missing", "directory", "huge"]
)
def test_each_bad_input_gets_one_line_exit_4_and_a_blocked_verdict(tmp_path, kind):
    path = _bad_inputs(tmp_path)[kind]
    r = runner.invoke(app, ["check", str(path), "--json"])
    assert r.exit_code == 4, r.output
    assert "Traceback" not in r.output
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("scrubber: error: ")
    if kind not in ("missing",):
        assert json.loads(r.stdout)["verdict"] == "blocked"


def test_animated_gif_is_blocked_with_exit_3(tmp_path):
    frames = [Image.new("RGB", (200, 100), c) for c in ("white", "black")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    r = runner.invoke(app, ["check", str(tmp_path / "anim.gif")])
    assert r.exit_code == 3 and "multi-frame:2" in r.stdout and "Traceback" not in r.output


@pytest.mark.parametrize("mode", ["CMYK", "I;16", "RGBA"])
def test_cmyk_16_bit_and_alpha_are_converted_and_scanned(tmp_path, mode):
    """Issue 2 asks for these to be converted, not refused: the one-line note says what was done."""
    src = Image.open(SAMPLES / "wristband.jpg").convert("RGB")
    if mode == "CMYK":
        path = tmp_path / "c.jpg"
        src.convert("CMYK").save(path)
    elif mode == "I;16":
        path = tmp_path / "g16.png"
        Image.fromarray((np.asarray(src.convert("L")).astype(np.uint16) * 257)).save(path)
    else:
        path = tmp_path / "a.png"
        src.convert("RGBA").save(path)
    r = runner.invoke(app, ["check", str(path), "--json"])
    doc = json.loads(r.stdout)
    assert r.exit_code == 1 and doc["verdict"] == "redacted", r.output
    assert {"NAME", "MRN"} <= {d["label"] for d in doc["detections"]}


def test_internal_errors_are_one_line_exit_4(monkeypatch):
    import scrubber.pipeline

    monkeypatch.setattr(scrubber.pipeline.Scrubber, "process", lambda *a, **k: 1 / 0)
    r = runner.invoke(app, ["check", str(SAMPLES / "wristband.jpg")])
    assert r.exit_code == 4
    assert r.stderr.strip() == "scrubber: internal error: ZeroDivisionError: division by zero (rerun with --debug)"


def test_a_jpeg_named_png_is_checked_by_what_it_holds(tmp_path):
    Image.open(SAMPLES / "wristband.jpg").save(tmp_path / "wrong.png", "JPEG")
    r = runner.invoke(app, ["check", str(tmp_path / "wrong.png"), "--json"])
    out = json.loads(r.stdout)
    assert r.exit_code == 1 and out["verdict"] == "redacted" and "content-jpeg-named-.png" in out["notes"]


@pytest.mark.parametrize("args", [["-h"], ["check", "-h"], ["scan", "-h"], ["consent", "add", "-h"]])
def test_dash_h_shows_the_help(args):
    r = runner.invoke(app, args)
    assert r.exit_code == 0 and "Usage:" in r.stdout


def test_a_folder_given_to_check_points_to_scan(tmp_path):
    r = runner.invoke(app, ["check", str(SAMPLES)])
    assert r.exit_code == 4 and "a folder, not a photo" in r.stderr and "scrubber scan" in r.stderr


COMMANDS = [["check"], ["scan"], ["watch"], ["status"], ["serve"], ["consent", "add"], ["consent", "list"],
            ["consent", "check"], ["consent", "revoke"], ["consent", "forget"], ["audit", "verify"],
            ["policy", "show"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_teaches_by_example_and_flags_show_no_type(command):
    r = runner.invoke(app, [*command, "--help"], terminal_width=100)
    assert r.exit_code == 0
    assert "Example" in r.stdout and f"scrubber {' '.join(command)} " in r.stdout
    assert "<bool>" not in r.stdout


def test_check_takes_several_photos_into_an_out_folder(tmp_path):
    out = tmp_path / "ready"
    r = _run("check", SAMPLES / "banner_clean_text.jpg", SAMPLES / "wristband.jpg", "--out", out,
             "--policy", CLINIC_POLICY)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["banner_clean_text.jpg", "wristband.jpg"]
    assert f"{SAMPLES / 'banner_clean_text.jpg'}: clean" in r.stdout
    assert f"{SAMPLES / 'wristband.jpg'}: redacted" in r.stdout
    # a name that holds an identifier is not the safe copy's name; --json gives one object per photo
    named = tmp_path / "Smith_John_MRN00482913.jpg"
    named.write_bytes((SAMPLES / "group_photo.jpg").read_bytes())
    r = _run("check", named, SAMPLES / "wristband.jpg", "--out", out, "--json")
    assert r.exit_code == 2 and "wristband.jpg: already exists" in r.stderr  # nothing was scanned
    r = _run("check", named, SAMPLES / "empty_room.jpg", "--out", out, "--json")
    docs = json.loads(r.stdout)
    assert [d["verdict"] for d in docs] == ["redacted", "clean"] and r.exit_code == 0
    assert "Smith" not in docs[0]["output"] and (out / "empty_room.jpg").exists()


def test_several_photos_exit_with_the_worst_verdict_and_need_a_folder(tmp_path):
    r = _run("check", SAMPLES / "banner_clean_text.jpg", SAMPLES / "wristband.jpg", "--policy", CLINIC_POLICY)
    assert r.exit_code == 1  # one photo holds PHI and there is no --out
    r = _run("check", SAMPLES / "wristband.jpg", tmp_path / "missing.jpg", "--out", tmp_path / "o")
    assert r.exit_code == 4 and (tmp_path / "o" / "wristband.jpg").exists()
    assert "missing.jpg: blocked (unreadable)" in r.stdout and "There is no file by that name" in r.stdout
    r = _run("check", SAMPLES / "wristband.jpg", SAMPLES / "empty_room.jpg", "--out", tmp_path / "one.jpg")
    assert r.exit_code == 2 and "several photos need a folder for --out" in r.stderr


def test_a_photo_that_may_not_be_read_exits_4_with_one_line(tmp_path, monkeypatch):
    import os

    photo = tmp_path / "locked.jpg"
    photo.write_bytes((SAMPLES / "wristband.jpg").read_bytes())
    real_open = os.open

    def denied(path, *args, **kwargs):  # the fault: tests run as root here, where chmod 000 is no bar
        if str(path) == str(photo):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    r = runner.invoke(app, ["check", str(photo)])
    assert r.exit_code == 4 and "Traceback" not in r.output
    assert r.stderr.strip() == f"scrubber: error: {photo}: cannot read file (Permission denied)"
    assert "You may not read this file" in r.stdout
