import json

from typer.testing import CliRunner

from scrubber import audit
from scrubber.cli import app


def test_chain_verifies_and_shows_tampering(tmp_path):
    for i, action in enumerate(["approve", "reject", "release"]):
        audit.append(tmp_path, "Dana", f"p{i}.jpg", "ab" * 32, action, f"reason {i}")
    assert audit.verify(tmp_path).ok and audit.verify(tmp_path).lines == 3
    assert audit.decisions(tmp_path)["p2.jpg"]["action"] == "release"
    r = CliRunner().invoke(app, ["audit", "verify", str(tmp_path)])
    assert r.exit_code == 0 and "chain intact (3 decisions)" in r.stdout

    path = audit.log_path(tmp_path)
    lines = path.read_text().splitlines()
    record = json.loads(lines[1])
    record["action"] = "approve"  # rewrite history
    lines[1] = json.dumps(record, sort_keys=True)
    path.write_text("\n".join(lines) + "\n")
    check = audit.verify(tmp_path)
    assert not check.ok and check.lines == 3 and "line 3" in check.problem
    r = CliRunner().invoke(app, ["audit", "verify", str(tmp_path)])
    assert r.exit_code == 3 and "chain broken" in r.stderr


def test_deleting_a_line_breaks_the_chain(tmp_path):
    for i in range(3):
        audit.append(tmp_path, "Dana", f"p{i}.jpg", "cd" * 32, "reject", "")
    path = audit.log_path(tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    assert not audit.verify(tmp_path).ok


def test_empty_log_is_intact(tmp_path):
    assert audit.verify(tmp_path).ok
