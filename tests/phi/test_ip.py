import pytest

from tests.phi.assertions import values

CASES = [
    (["host 10.12.4.201"], ["10.12.4.201"]),
    (["192.168.0.1 and 172.16.5.4"], ["172.16.5.4", "192.168.0.1"]),
    (["fe80::1ff:fe23:4567:890a"], ["fe80::1ff:fe23:4567:890a"]),
    (["999.1.1.1"], []),  # octet out of range
    (["v1.2.3"], []),
]


@pytest.mark.parametrize("lines, expected", CASES)
def test_ip(lines, expected):
    assert values(["ip"], *lines) == expected
