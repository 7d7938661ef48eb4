import pytest

from scrubber.registry import pick


def test_pick_keeps_order_and_refuses_unknown_or_repeated_names():
    table = {"a": 1, "b": 2, "c": 3}
    assert pick(["c", "a"], table, KeyError, "thing") == [3, 1]
    with pytest.raises(ValueError, match=r"unknown thing 'd' \(valid: a, b, c\)"):
        pick(["a", "d"], table, ValueError, "thing")
    with pytest.raises(ValueError, match="thing 'a' listed twice"):
        pick(["a", "a"], table, ValueError, "thing")
