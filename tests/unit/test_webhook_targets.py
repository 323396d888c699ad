"""The SSRF rule for webhook targets: which addresses are refused, and URL checks."""

from __future__ import annotations

import ipaddress

import pytest

from muster.errors import InvalidInput
from muster.notify.webhooks.targets import (
    TargetRefused,
    TargetUnresolvable,
    check_target,
    parse_url,
    refusal,
    resolve,
)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.10", "private"),  # documentation range: never a real receiver
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
    ],
)
def test_refused_addresses(address: str, reason: str) -> None:
    assert refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "93.184.216.34"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "http:///nohost", "javascript:alert(1)"]
)
def test_only_absolute_http_urls(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_url(url)
    assert caught.value.code == "webhook.invalid_url"


def test_ip_literals_resolve_to_themselves() -> None:
    assert resolve("8.8.8.8", 443, 1) == [ipaddress.ip_address("8.8.8.8")]
    assert resolve("[::1]", 80, 1) == [ipaddress.ip_address("::1")]


def test_localhost_is_refused_after_resolving() -> None:
    with pytest.raises(TargetRefused) as caught:
        check_target("http://localhost:8080/hook", allow_private=False, timeout=5)
    assert caught.value.code == "webhook.target_refused"
    assert caught.value.errors[0]["field"] == "url"


def test_the_admin_setting_allows_private_targets() -> None:
    assert check_target("http://127.0.0.1:1/x", allow_private=True, timeout=1).host == "127.0.0.1"
    assert check_target("https://8.8.8.8/x", allow_private=False, timeout=1).port is None


def test_a_name_that_does_not_resolve() -> None:
    with pytest.raises(TargetUnresolvable) as caught:
        check_target("http://no-such-host.invalid/x", allow_private=False, timeout=5)
    assert caught.value.code == "webhook.target_unresolvable"
