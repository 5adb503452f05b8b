"""Where outbound requests may go: every spelling of a private address is seen through, named hosts are
exempt only at their port, and URLs are shown without their secrets."""

from __future__ import annotations

import ipaddress
import re

import pytest
from pydantic import ValidationError

from videoforge.kit.address_policy import (
    AddressPolicy,
    AddressRefused,
    address_refusal,
    parse_host_port,
    parse_ip_literal,
    redact,
)
from videoforge.kit.settings import Settings

POLICY = AddressPolicy()


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),  # decimal
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("0x7f.1", "127.0.0.1"),  # hex, short form
        ("0x7f000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),  # short form
        ("127.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("2852039166", "169.254.169.254"),
        ("0", "0.0.0.0"),
        ("::1", "::1"),
        ("fe80::1%eth0", "fe80::1"),
    ],
)
def test_every_spelling_of_an_address_is_read_as_the_address(host: str, address: str) -> None:
    assert parse_ip_literal(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["example.com", "127.0.0.1.nip.io", "0x7g.1", "1.2.3.4.5", "256.1.1.1", "08.1.1.1"])
def test_names_and_impossible_numbers_are_names_not_addresses(host: str) -> None:
    assert parse_ip_literal(host) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.255.255.254", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("169.254.1.1", "a link-local address"),
        ("100.64.0.1", "a carrier-grade NAT address"),
        ("100.127.255.254", "a carrier-grade NAT address"),
        ("224.0.0.251", "a multicast address"),
        ("239.255.255.250", "a multicast address"),
        ("0.0.0.0", "the unspecified address"),
        ("240.0.0.1", "a reserved address"),
        ("255.255.255.255", "a reserved address"),
        ("192.0.2.1", "a private address"),  # documentation
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("::1", "a loopback address"),
        ("::", "the unspecified address"),
        ("fe80::1", "a link-local address"),
        ("fc00::1", "a private address"),
        ("fec0::1", "a site-local address"),
        ("ff02::1", "a multicast address"),
        ("2001:db8::1", "a private address"),
        # IPv4 inside IPv6 is judged as the IPv4 it carries.
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:7f00:1", "a loopback address"),
        ("::ffff:169.254.169.254", "a cloud metadata address"),
        ("::ffff:a9fe:a9fe", "a cloud metadata address"),
        ("::127.0.0.1", "a loopback address"),  # IPv4-compatible
        ("::10.0.0.1", "a private address"),
        ("64:ff9b::7f00:1", "a loopback address"),  # NAT64 well-known prefix
        ("64:ff9b::a9fe:a9fe", "a cloud metadata address"),
        ("64:ff9b:1::a00:1", "a private address"),  # NAT64 local-use prefix
        ("2002:7f00:1::", "a loopback address"),  # 6to4
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "a loopback address"),  # Teredo, client 127.0.0.1
    ],
)
def test_addresses_off_limits_are_refused_with_the_reason(address: str, reason: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/v.mp4", "127.0.0.1 is a loopback address"),
        ("https://2130706433/v.mp4", "127.0.0.1 is a loopback address"),
        ("https://0177.0.0.1/v.mp4", "127.0.0.1 is a loopback address"),
        ("https://0x7f.1/v.mp4", "127.0.0.1 is a loopback address"),
        ("https://127.1:8443/v.mp4", "127.0.0.1 is a loopback address"),
        ("https://[::1]/v.mp4", "::1 is a loopback address"),
        ("https://[::ffff:127.0.0.1]/v.mp4", "::ffff:7f00:1 is a loopback address"),
        ("https://[0:0:0:0:0:ffff:a9fe:a9fe]/latest", "::ffff:a9fe:a9fe is a cloud metadata address"),
        ("https://[64:ff9b::169.254.169.254]/", "64:ff9b::a9fe:a9fe is a cloud metadata address"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("https://[fd00:ec2::254]/latest/", "fd00:ec2::254 is a cloud metadata address"),
        ("https://100.100.100.200/", "100.100.100.200 is a cloud metadata address"),
        (
            "https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",
            "127.0.0.1 is a loopback address",
        ),  # full-width digits normalise
        ("https://127.0.0.1./v.mp4", "127.0.0.1 is a loopback address"),  # trailing dot
        ("http://example.com/v.mp4", "only https:// URLs are accepted, not http:// ones"),
        ("ftp://example.com/v.mp4", "only https:// URLs are accepted, not ftp:// ones"),
        ("file:///etc/passwd", "only https:// URLs are accepted, not file:// ones"),
        ("gopher://127.0.0.1:6379/_INFO", "only https:// URLs are accepted, not gopher:// ones"),
        ("//example.com/v.mp4", "only https:// URLs are accepted, not relative:// ones"),
        ("https:///v.mp4", "the URL has no host"),
        ("https://example.com:99999/", "the URL cannot be read"),
        ("https://exa mple.com/", "the URL contains spaces, control characters or backslashes"),
        ("https://example.com\\@127.0.0.1/", "the URL contains spaces, control characters or backslashes"),
    ],
)
def test_urls_that_can_never_be_fetched_are_refused_before_any_lookup(url: str, reason: str) -> None:
    with pytest.raises(AddressRefused) as refused:
        POLICY.target(url)

    assert str(refused.value).startswith(reason)


def test_a_public_url_keeps_its_host_for_tls_and_the_host_header() -> None:
    target = POLICY.target("https://User:Secret@Media.Example.COM:8443/films/a%20b.mp4?sig=x")

    assert (target.scheme, target.host, target.port, target.literal) == ("https", "media.example.com", 8443, None)
    assert target.request_target == "/films/a%20b.mp4?sig=x"
    assert target.host_header == "media.example.com:8443"
    assert POLICY.target("https://[2606:4700::1111]/").host_header == "[2606:4700::1111]"


def test_a_named_host_is_refused_when_any_of_its_addresses_is_off_limits() -> None:
    target = POLICY.target("https://rebind.example.com/v.mp4")
    public, private = ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("10.0.0.7")

    assert POLICY.check_addresses(target, [public]) == [public]
    with pytest.raises(AddressRefused, match=re.escape("10.0.0.7 is a private address")):
        POLICY.check_addresses(target, [public, private])
    with pytest.raises(AddressRefused, match="has no address"):
        POLICY.check_addresses(target, [])


def test_an_allowed_host_is_exempt_at_its_port_only_and_may_use_http() -> None:
    policy = AddressPolicy.from_setting(["127.0.0.1:8080", "media.internal:9000"])
    loopback = ipaddress.ip_address("127.0.0.1")

    assert policy.target("http://127.0.0.1:8080/v.mp4").exempt
    internal = policy.target("http://media.internal:9000/v.mp4")
    assert policy.check_addresses(internal, [ipaddress.ip_address("10.0.0.5")])
    with pytest.raises(AddressRefused, match=re.escape("127.0.0.1 is a loopback address")):
        policy.target("https://127.0.0.1:8081/v.mp4")
    with pytest.raises(AddressRefused, match=re.escape("127.0.0.1 is a loopback address")):
        policy.target("https://2130706433:8081/")
    other = policy.target("https://media.internal/v.mp4")
    with pytest.raises(AddressRefused, match=re.escape("10.0.0.5 is a private address")):
        policy.check_addresses(other, [ipaddress.ip_address("10.0.0.5")])
    with pytest.raises(AddressRefused, match="only https://"):
        policy.target("http://media.internal:9001/v.mp4")
    assert not policy.target("https://example.com/").exempt
    assert loopback not in POLICY.check_addresses(
        POLICY.target("https://example.com/"), [ipaddress.ip_address("1.1.1.1")]
    )


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("127.0.0.1:8443", ("127.0.0.1", 8443)),
        ("[::1]:9000", ("::1", 9000)),
        ("Media.Example.com:443", ("media.example.com", 443)),
    ],
)
def test_allowed_hosts_are_read_as_urls_name_them(entry: str, parsed: tuple[str, int]) -> None:
    assert parse_host_port(entry) == parsed


@pytest.mark.parametrize("entry", ["example.com", "example.com:port", ":80"])
def test_an_allowed_host_without_a_port_is_a_configuration_error(entry: str) -> None:
    with pytest.raises(ValueError, match=entry):
        parse_host_port(entry)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pass@example.com/v.mp4?X-Amz-Signature=abc", "https://example.com/v.mp4?…"),
        ("https://example.com:8443/a/b.mp4", "https://example.com:8443/a/b.mp4"),
        ("https://[::1]:8443/v", "https://[::1]:8443/v"),
        ("https://example.com:bad/", "(an unreadable URL)"),
    ],
)
def test_urls_are_shown_without_credentials_or_query(url: str, shown: str) -> None:
    assert redact(url) == shown


@pytest.mark.parametrize(
    ("value", "hosts"),
    [
        ("", []),
        ("127.0.0.1:8443", ["127.0.0.1:8443"]),
        ("127.0.0.1:8443, media.internal:9000", ["127.0.0.1:8443", "media.internal:9000"]),
        ('["[::1]:9000"]', ["[::1]:9000"]),
    ],
)
def test_outbound_allowed_hosts_is_read_from_a_list_or_json(
    monkeypatch: pytest.MonkeyPatch, value: str, hosts: list[str]
) -> None:
    monkeypatch.setenv("OUTBOUND_ALLOWED_HOSTS", value)

    assert Settings().outbound_allowed_hosts == hosts


def test_an_allowed_host_without_a_port_stops_the_platform_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTBOUND_ALLOWED_HOSTS", "media.internal")

    with pytest.raises(ValidationError, match=re.escape("'media.internal' must be host:port")):
        Settings()
