"""Where the platform may send a request on a user's behalf (URL import, later webhooks): pure rules, no I/O.

A URL passes when its scheme is allowed and every address its host stands for is a public one. Addresses are
judged after undoing every spelling that names a private one in disguise: IPv4 in decimal, octal, hex or short
form (`2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1`), IPv4 inside IPv6 (mapped, compatible, NAT64, 6to4,
Teredo). Named hosts in `allowed_hosts` (`host:port`) skip the address rules; they are an operator's explicit
choice (a test server, a private deployment's media host) and may speak plain HTTP.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from videoforge.kit.errors import InvalidArgument, require

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance metadata: credentials live here, whatever network the platform runs in.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
DEFAULT_PORTS = {"https": 443, "http": 80}
MAX_URL_LENGTH = 2048


class AddressRefused(Exception):
    """The URL or one of its addresses is off limits; the message says why in words a user can act on. Never
    worth retrying."""


@dataclass(frozen=True)
class Target:
    """A URL reduced to what a connection needs; `host` is the name to verify TLS against and send as Host."""

    scheme: str
    host: str
    port: int
    # The address the host is, when the URL spells one; None for a name that still needs resolving.
    literal: IPAddress | None
    # Path and query as sent on the request line.
    request_target: str
    exempt: bool

    @property
    def host_header(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return shown if self.port == DEFAULT_PORTS[self.scheme] else f"{shown}:{self.port}"


@dataclass(frozen=True)
class AddressPolicy:
    """The rules one kind of outbound request follows."""

    allowed_hosts: frozenset[tuple[str, int]] = field(default_factory=frozenset)
    schemes: tuple[str, ...] = ("https",)

    @classmethod
    def from_setting(cls, entries: list[str], *, schemes: tuple[str, ...] = ("https",)) -> AddressPolicy:
        return cls(frozenset(parse_host_port(entry) for entry in entries), schemes)

    def target(self, url: str) -> Target:
        """Checks everything the URL itself says; a named host's addresses are checked with `check_addresses`."""
        parts = _split(url)
        scheme = parts.scheme.lower()
        if scheme not in self.schemes and scheme not in DEFAULT_PORTS:
            raise self._scheme_refused(scheme)
        host = _host_of(parts)
        port = _port_of(parts, scheme)
        exempt = (host, port) in self.allowed_hosts
        if scheme not in self.schemes and not exempt:
            raise self._scheme_refused(scheme)
        literal = parse_ip_literal(host)
        if literal is not None and not exempt:
            refuse_address(literal)
        path = parts.path or "/"
        return Target(scheme, host, port, literal, f"{path}?{parts.query}" if parts.query else path, exempt)

    def checked_url(self, url: str, field_name: str) -> str:
        """`url` as a request field: present, of sane length, and passing `target`; INVALID_ARGUMENT naming the
        field otherwise. A named host's addresses are checked again when the request is made."""
        url = require(url, field_name)
        if len(url) > MAX_URL_LENGTH:
            raise InvalidArgument.for_field(field_name, f"must be at most {MAX_URL_LENGTH} characters", "URL_TOO_LONG")
        try:
            self.target(url)
        except AddressRefused as refusal:
            raise InvalidArgument.for_field(field_name, str(refusal), "URL_REFUSED") from refusal
        return url

    def _scheme_refused(self, scheme: str) -> AddressRefused:
        allowed = " or ".join(f"{s}://" for s in self.schemes)
        return AddressRefused(f"only {allowed} URLs are accepted, not {scheme or 'relative'}:// ones")

    def check_addresses(self, target: Target, addresses: list[IPAddress]) -> list[IPAddress]:
        """The addresses a connection may use, in order; refused when any of them is off limits (a name that
        resolves both inside and outside is a rebinding trick, not a reason to pick the good one)."""
        if not addresses:
            raise AddressRefused(f"{target.host} has no address")
        if not target.exempt:
            for address in addresses:
                refuse_address(address)
        return addresses


def parse_host_port(entry: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` of OUTBOUND_ALLOWED_HOSTS, normalised as URLs are."""
    parts = urlsplit(f"//{entry.strip()}")
    try:
        port = parts.port
    except ValueError as error:
        raise ValueError(f"{entry!r}: the port is not a number") from error
    if not parts.hostname or port is None:
        raise ValueError(f"{entry!r} must be host:port")
    return _normalise_host(parts.hostname), port


def refuse_address(address: IPAddress) -> None:
    """Raises AddressRefused naming why `address` is off limits; returns for a public unicast address."""
    if reason := address_refusal(address):
        raise AddressRefused(f"{address} is {reason}; only public addresses can be fetched")


def address_refusal(address: IPAddress) -> str | None:
    """Why an address is off limits, or None for a public unicast one. IPv4 hidden in IPv6 is judged as IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and (embedded := _embedded_ipv4(address)):
        return address_refusal(embedded)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "the unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "a carrier-grade NAT address"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "a site-local address"),
        (not address.is_global, "not a public address"),
    )
    return next((reason for matched, reason in checks if matched), None)


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host spells, in any form a resolver would accept (inet_aton's decimal, octal, hex and short
    forms included), or None for a name."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0] if ":" in host else host)
    except ValueError:
        pass
    return _legacy_ipv4(host)


def redact(url: str) -> str:
    """The URL as logs and answers show it: no user or password, no query (signed URLs carry tokens there)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an unreadable URL)"
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}{port}{parts.path}" + ("?…" if parts.query else "")


def _split(url: str) -> SplitResult:
    text = url.strip()
    if any(ord(c) < 0x21 or c == "\\" for c in text):
        raise AddressRefused("the URL contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - reading it validates it
    except ValueError as error:
        raise AddressRefused(f"the URL cannot be read ({error})") from error
    return parts


def _host_of(parts: SplitResult) -> str:
    if not parts.hostname:
        raise AddressRefused("the URL has no host")
    return _normalise_host(parts.hostname)


def _normalise_host(hostname: str) -> str:
    host = hostname.lower().rstrip(".")
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise AddressRefused(f"the host name {hostname!r} is not valid") from error


def _port_of(parts: SplitResult, scheme: str) -> int:
    port = parts.port if parts.port is not None else DEFAULT_PORTS.get(scheme, 0)
    if not 0 < port < 65536:
        raise AddressRefused("the URL's port is not valid")
    return port


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """IPv4 carried inside IPv6: mapped, compatible (`::a.b.c.d`), NAT64, 6to4 and Teredo's client address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """inet_aton's forms: 1 to 4 parts, each decimal, octal (leading 0) or hex (0x), the last filling the rest."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        number = _c_integer(part)
        if number is None:
            return None
        numbers.append(number)
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _c_integer(text: str) -> int | None:
    lowered = text.lower()
    try:
        if lowered.startswith("0x"):
            return int(lowered[2:] or "0", 16)
        if len(lowered) > 1 and lowered.startswith("0"):
            return int(lowered[1:], 8)
        return int(lowered, 10) if lowered.isdigit() else None
    except ValueError:
        return None
