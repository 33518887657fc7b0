"""The webhook URL rules at registration and the address rule at delivery, in and outside production."""

from __future__ import annotations

import ipaddress

import pytest

from shared.domain.webhooks.webhook_urls import address_allowed, address_refusal, check_webhook_url
from shared.errors import InvalidInput

BOTH = (True, False)

# (url, accepted in production, accepted outside production)
CASES = [
    ("https://hooks.example.com/x", True, True),
    ("https://hooks.example.com", True, True),
    ("https://hooks.example.com:8443/x?a=1", True, True),
    ("https://8.8.8.8/h", True, True),
    ("https://[2606:4700::1111]/h", True, True),
    ("http://hooks.example.com", False, False),
    ("ftp://hooks.example.com/x", False, False),
    ("hooks.example.com/x", False, False),
    ("https:///x", False, False),
    ("https://user:pw@hooks.example.com/x", False, False),
    ("https://hooks.example.com@10.0.0.1/x", False, False),
    ("https://10.0.0.1/h", False, False),
    ("https://172.16.5.4/h", False, False),
    ("https://192.168.1.1/h", False, False),
    ("https://100.64.0.1/h", False, False),
    ("https://169.254.169.254/latest/meta-data", False, False),
    ("https://[fe80::1]/h", False, False),
    ("https://[fc00::1]/h", False, False),
    ("https://224.0.0.1/h", False, False),
    ("https://[ff02::1]/h", False, False),
    ("https://127.0.0.1/h", False, False),
    ("https://[::1]/h", False, False),
    ("https://[::ffff:192.168.0.1]/h", False, False),
    ("https://[::ffff:10.0.0.1]/h", False, False),
    ("https://[::ffff:127.0.0.1]/h", False, False),
    ("https://[64:ff9b::a00:1]/h", False, False),
    ("https://[2002:a00:1::1]/h", False, False),
    ("https://0.0.0.0/h", False, False),
    ("https://[::]/h", False, False),
    ("https://240.0.0.1/h", False, False),
    ("https://255.255.255.255/h", False, False),
    ("https://127.1/h", False, False),
    ("https://0x7f000001/h", False, False),
    ("https://2130706433/h", False, False),
    ("https://localhost/h", False, False),
    ("https://localhost./h", False, False),
    ("https://app.localhost/h", False, False),
    ("https://printer.local/h", False, False),
    ("https://metadata.google.internal/h", False, False),
    ("http://127.0.0.1:8080/h", False, True),
    ("http://localhost:8080/h", False, True),
    ("https://localhost:8443/h", False, True),
    ("http://127.0.0.1/h", False, False),
    ("http://localhost/h", False, False),
    ("http://[::1]:8080/h", False, False),
    ("http://10.0.0.1:8080/h", False, False),
    ("https://hooks.example.com:0/x", False, False),
    ("https://hooks.example.com:99999/x", False, False),
    ("https://hooks example.com/x", False, False),
    ("https://hooks.example.com/a b", False, False),
    ("https://hooks.example.com\\@10.0.0.1/", False, False),
    ("https://-bad-.example.com/x", False, False),
    ("https://[fe80::1%25eth0]/h", False, False),
    ("https://hooks.example.com/" + "x" * 2048, False, False),
]


@pytest.mark.parametrize(("url", "in_production", "outside_production"), CASES)
@pytest.mark.parametrize("production", BOTH)
def test_registration_rules(url: str, in_production: bool, outside_production: bool, production: bool) -> None:
    expected = in_production if production else outside_production
    if expected:
        assert check_webhook_url(url, production=production)
    else:
        with pytest.raises(InvalidInput) as refused:
            check_webhook_url(url, production=production)
        assert refused.value.details[0]["loc"] == ["body", "url"]
        assert refused.value.details[0]["msg"]


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("HTTPS://Hooks.Example.COM/X?b=2#frag", "https://hooks.example.com/X?b=2"),
        ("https://hooks.example.com", "https://hooks.example.com/"),
        ("https://[2606:4700:0::1111]:8443/h", "https://[2606:4700::1111]:8443/h"),
    ],
)
def test_the_url_is_normalised(url: str, normalised: str) -> None:
    assert check_webhook_url(url, production=True) == normalised


def test_the_reason_is_given() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_webhook_url("https://169.254.169.254/", production=True)
    assert refused.value.details == [{"loc": ["body", "url"], "msg": "host is a link-local address"}]
    assert refused.value.code == "VALIDATION_ERROR"


# (address, allowed in production, allowed outside production)
ADDRESSES = [
    ("8.8.8.8", True, True),
    ("2606:4700::1111", True, True),
    ("::ffff:8.8.8.8", True, True),
    ("127.0.0.1", False, True),
    ("127.8.9.10", False, True),
    ("::1", False, True),
    ("10.0.0.5", False, False),
    ("192.168.0.1", False, False),
    ("172.31.255.255", False, False),
    ("100.100.100.200", False, False),
    ("169.254.169.254", False, False),
    ("fe80::1", False, False),
    ("fd00:ec2::254", False, False),
    ("224.0.0.251", False, False),
    ("ff02::1", False, False),
    ("0.0.0.0", False, False),  # noqa: S104 - an address judged, not bound
    ("::", False, False),
    ("240.0.0.1", False, False),
    ("192.0.2.1", False, False),
    ("::ffff:10.0.0.1", False, False),
    ("::ffff:169.254.169.254", False, False),
    ("64:ff9b::a9fe:a9fe", False, False),
    ("2002:c0a8:1::1", False, False),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False, False),
    ("::a00:1", False, False),
    ("2001:db8::1", False, False),
]


@pytest.mark.parametrize(("address", "in_production", "outside_production"), ADDRESSES)
def test_delivery_addresses(address: str, in_production: bool, outside_production: bool) -> None:
    parsed = ipaddress.ip_address(address)
    assert address_allowed(parsed, production=True) is in_production
    assert address_allowed(parsed, production=False) is outside_production


def test_a_refused_address_has_a_reason() -> None:
    assert address_refusal(ipaddress.ip_address("10.0.0.5"), production=True) == "private address"
    assert address_refusal(ipaddress.ip_address("::ffff:10.0.0.5"), production=True) == "IPv4-embedding private address"
    assert address_refusal(ipaddress.ip_address("8.8.8.8"), production=True) is None
