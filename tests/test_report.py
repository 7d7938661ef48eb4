from scrubber.detection import Box, Detection, Kind
from scrubber.pipeline import Result
from scrubber.policy import Status
from scrubber.report import result_record, summarize, to_csv


def _result():
    dets = (
        Detection(Kind.IDENTIFIER, Box(1, 2, 30, 12), 0.9, "phi-name/1", label="NAME", text="Maria Garcia"),
        Detection(Kind.TEXT, Box(1, 2, 30, 12), 0.9, "text-ocr", text="Maria"),
        Detection(Kind.FACE, Box(5, 5, 50, 60), 0.95, "faces-yunet"),
    )
    return Result("a/b.jpg", Status.REDACTED, ("fill:identifier:NAME", "blur:face"), dets, sha256="ab" * 32,
                  timings={"total": 1.0})


def test_records_mask_text_and_leave_plain_words_out():
    rec = result_record(_result())
    assert [d["kind"] for d in rec["detections"]] == ["identifier", "face"]
    assert rec["detections"][0]["masked"] == "M**** G*****"
    assert "Maria" not in str(rec) and "Garcia" not in str(rec)


def test_csv_has_one_row_per_image_without_phi():
    text = to_csv([_result()])
    lines = text.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("path,sha256,verdict")
    assert "identifier:NAME@1,2,30,12:0.9" in lines[1] and "Maria" not in text


def test_summary_counts():
    s = summarize([_result(), Result("x.jpg", Status.BLOCKED, ("unreadable",), error="x.jpg: empty file")], 2.0, 3)
    assert s.by_status == {"clean": 0, "redacted": 1, "blocked": 1}
    assert s.by_kind == {"face": 1, "identifier:NAME": 1}
    assert s.failed == 1 and s.skipped == 3 and s.per_second == 1.0


def test_two_detectors_on_one_face_count_one_person():
    """YuNet and dlib each find each of three people: the summary and the CSV say 3, not 6."""
    people = [Box(10, 10, 60, 70), Box(100, 10, 150, 70), Box(200, 10, 250, 70)]
    dets = tuple(Detection(Kind.FACE, b, 0.9, src) for b in people for src in ("faces-yunet", "faces-dlib"))
    dets += (Detection(Kind.TEXT, Box(0, 80, 40, 90), 0.6, "text-ocr", evidence=("unreadable",)),)
    r = Result("team.jpg", Status.REDACTED, ("blur:face",), dets, timings={"total": 1.0})
    assert summarize([r], 1.0).by_kind == {"face": 3, "unreadable text line": 1}
    assert to_csv([r]).splitlines()[1].split(",")[6] == "3"
