import pytest

from scrubber.detection import Box, Detection, Kind
from scrubber.errors import PolicyError
from scrubber.policy import Action, Policy, Status, decide


def _det(kind, score=0.9, label=None, box=Box(10, 10, 50, 30), evidence=()):
    return Detection(kind, box, score, "test", label=label, evidence=evidence)


def test_defaults_blur_faces_fill_identifiers_and_barcodes_keep_plain_text():
    p = Policy()
    assert p.actions[Kind.FACE] is Action.BLUR
    assert p.actions[Kind.IDENTIFIER] is Action.FILL
    assert p.actions[Kind.BARCODE] is Action.FILL
    assert p.actions[Kind.TEXT] is Action.KEEP


def test_toml_overrides_and_show_round_trips(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('allowlist = ["Riverside Family Clinic"]\nthreshold = 0.6\n[actions]\nface = "fill"\nbarcode = "block"\n')
    p = Policy.load(f)
    assert p.allowlist == ("Riverside Family Clinic",) and p.threshold == 0.6
    assert p.actions[Kind.FACE] is Action.FILL and p.actions[Kind.BARCODE] is Action.BLOCK
    again = tmp_path / "again.toml"
    again.write_text(p.to_toml())
    assert Policy.load(again).actions == p.actions
    assert Policy.load(again).allowlist == p.allowlist


@pytest.mark.parametrize(
    "text, message",
    [
        ("thresold = 0.5", "unknown policy key 'thresold'"),
        ("threshold = 'high'", "not a valid float"),
        ("threshold = 0", "thresholds must be in"),
        ("[actions]\nface = 'smudge'", "actions are fill, blur, keep, block"),
        ("[actions]\nhat = 'fill'", "kinds are"),
        ("detectors = ['faces-yunet', 'screens-magic']", "unknown detector 'screens-magic'"),
        ("identifiers = ['passport']", "unknown identifier 'passport'"),
        ("verify = 'yes'", "not a valid bool"),
        ("this is not toml", "invalid TOML"),
    ],
)
def test_bad_policy_files_stop_the_run_with_one_sentence(tmp_path, text, message):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(PolicyError, match=message):
        Policy.load(f)


def test_missing_policy_file(tmp_path):
    with pytest.raises(PolicyError, match="not found"):
        Policy.load(tmp_path / "none.toml")


def test_verdicts():
    p = Policy()
    assert decide((), p, 100, 100).status is Status.CLEAN
    v = decide((_det(Kind.IDENTIFIER, label="MRN"), _det(Kind.FACE)), p, 100, 100)
    assert v.status is Status.REDACTED
    assert set(v.reasons) == {"fill:identifier:MRN", "blur:face"}
    assert {r.action for r in v.regions} == {Action.FILL, Action.BLUR}
    assert next(r for r in v.regions if r.action is Action.BLUR).ellipse


def test_low_scores_are_not_acted_on():
    p = Policy()
    assert decide((_det(Kind.IDENTIFIER, score=0.3, label="NAME"), _det(Kind.FACE, score=0.4)), p, 100, 100).status \
        is Status.CLEAN


def test_block_action_and_errors_block_the_image():
    p = Policy.from_dict({"actions": {"barcode": "block"}})
    v = decide((_det(Kind.BARCODE),), p, 100, 100)
    assert v.status is Status.BLOCKED and v.reasons == ("block:barcode",) and v.regions == ()
    v = decide((), Policy(), 100, 100, errors=("detector-error:faces-yunet",))
    assert v.status is Status.BLOCKED and "detector-error:faces-yunet" in v.reasons


def test_unreadable_text_follows_its_own_setting():
    unreadable = _det(Kind.TEXT, evidence=("unreadable",))
    assert decide((unreadable,), Policy(), 100, 100).status is Status.CLEAN
    strict = Policy.from_dict({"unreadable_text": "fill"})
    assert decide((unreadable,), strict, 100, 100).status is Status.REDACTED
    plain_word = _det(Kind.TEXT)
    assert decide((plain_word,), strict, 100, 100).status is Status.CLEAN


def test_regions_are_grown_and_clipped_to_the_image():
    v = decide((_det(Kind.IDENTIFIER, label="MRN", box=Box(0, 0, 40, 20)),), Policy(), 30, 15)
    (r,) = v.regions
    assert r.box.x0 == 0 and r.box.y0 == 0 and r.box.x1 == 30 and r.box.y1 == 15
