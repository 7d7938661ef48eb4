import pytest

from scrubber.errors import DetectorFailed, UnknownIdentifier
from scrubber.phi import registry
from scrubber.phi.pattern import PatternRecognizer
from scrubber.phi.registry import AnalyzerSettings, recognize
from tests.phi.assertions import found, words


def test_every_recognizer_has_a_label_patterns_and_a_docstring():
    for name, cls in registry.RECOGNIZERS.items():
        rec = cls()
        assert rec.LABEL and (rec.PATTERNS or cls.analyze is not PatternRecognizer.analyze), name
        assert cls.__module__ and __import__(cls.__module__, fromlist=["x"]).__doc__, name


def test_unknown_and_repeated_identifiers_stop_the_run():
    with pytest.raises(UnknownIdentifier, match="valid: account, address"):
        registry.get(["mrn", "passport"])
    with pytest.raises(UnknownIdentifier, match="twice"):
        registry.get(["mrn", "mrn"])


def test_a_recognizer_that_raises_blocks_with_its_name():
    class Broken(PatternRecognizer):
        LABEL = "BROKEN"

        def analyze(self, text):
            raise RuntimeError("catastrophic backtracking")

    with pytest.raises(DetectorFailed) as info:
        recognize(words("anything"), [Broken()], AnalyzerSettings())
    assert info.value.tag == "recognizer-error:phi-broken"


def test_identifier_box_is_the_union_of_the_matched_words():
    dets = recognize(words("Patient: Samuel Oduya"), registry.get(["name"]), AnalyzerSettings())
    (d,) = dets
    ws = words("Patient: Samuel Oduya")
    assert (d.box.x0, d.box.x1) == (ws[1].box.x0, ws[2].box.x1)
    assert d.label == "NAME" and "pattern:labelled" in d.evidence


def test_allowlist_compares_whole_values_not_single_words():
    all_ids = list(registry.RECOGNIZERS)
    allow = ["Riverside Family Clinic", "(555) 010-0199"]
    assert found(all_ids, "Riverside Family Clinic (555) 010-0199", allowlist=allow) == []
    # an allowlisted word inside another value does not exempt it
    assert found(["name"], "Patient: Clinic Smith", allowlist=["Clinic"]) == [("NAME", "Clinic Smith")]


def test_the_allowlist_exempts_a_value_only_where_it_stands_whole():
    allow = ["(555) 010-0199"]
    # the clinic phone's digits inside an MRN or an account number are not the clinic phone
    assert found(["mrn", "account"], "MRN 0100199", allowlist=allow) == [("MRN", "0100199")]
    assert found(["account"], "Acct 5550100", allowlist=allow) == [("ACCOUNT", "5550100")]
    # a part of the allowlisted value matched where the value stands whole is the value
    assert found(["phone"], "Call us: (555) 010-0199", allowlist=allow) == []
    assert found(["phone"], "Call us: (555) 010-0199 or (555) 284-9931", allowlist=allow) == [
        ("PHONE", "(555) 284-9931")]


def test_a_name_the_lists_do_not_know_counts_in_a_column_of_names():
    # lines 30 px tall, 10 px apart, left edges aligned: a census list without labels
    listed = found(["name"], "FISCHER, SOFIA", "LINDQVIST KAREN", "RAMAN, PRIYA", "OKAFOR, NGOZI")
    assert listed == [("NAME", "FISCHER, SOFIA"), ("NAME", "LINDQVIST KAREN"), ("NAME", "OKAFOR, NGOZI"),
                      ("NAME", "RAMAN, PRIYA")]
    # alone, the same weak shapes are no names
    assert found(["name"], "LINDQVIST KAREN") == [] and found(["name"], "RAMAN, PRIYA") == []


def test_a_column_of_sign_words_beside_a_name_stays_unflagged():
    assert found(["name"], "GARCIA MARIA", "FIRE EXIT", "STAFF ONLY") == [("NAME", "GARCIA MARIA")]
