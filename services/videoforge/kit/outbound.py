"""Requests to URLs users give (import from a URL; webhooks later): the one way the platform fetches them.

Each hop resolves its host once, checks every address against the AddressPolicy, and connects only to those
addresses: a resolver that answers differently the second time (DNS rebinding) never gets a say. The URL's host
stays the Host header, the TLS server name and the name the certificate is verified against. Redirects are
followed by hand, each one checked like the first; size and total time are capped. Logs show URLs redacted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import httpcore

from videoforge.kit.address_policy import AddressPolicy, AddressRefused, IPAddress, Target, parse_ip_literal, redact

log = logging.getLogger(__name__)

REDIRECTS = (301, 302, 303, 307, 308)
# Statuses worth another try later: the server is busy or failing, not refusing this request.
TRANSIENT_STATUSES = (408, 425, 429, 500, 502, 503, 504)
USER_AGENT = b"VideoForge-fetch/1"
CHUNK_BYTES = 256 * 1024


class OutboundRefused(Exception):
    """The request cannot succeed as asked (forbidden address, bad URL, a 4xx answer, too large); retrying is
    pointless. The message is fit to show the user."""


class ContentRefused(OutboundRefused):
    """The head check refused what the server sent; the message is the check's reason."""


class OutboundUnavailable(Exception):
    """The request failed for now (unreachable, a 5xx answer, a stalled connection); it may work later."""


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int
    total_seconds: float
    connect_seconds: float = 10.0
    # Longest wait for the next bytes of an answer.
    read_seconds: float = 30.0
    max_redirects: int = 5


@dataclass(frozen=True)
class Fetched:
    """What a download stored: its size, the type the server claimed, and where it finally came from."""

    size: int
    content_type: str
    final_url: str


HeadCheck = Callable[[bytes], str | None]


class OutboundClient:
    """Fetches URLs under one AddressPolicy. `resolve` is the resolver (the system's by default)."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        ssl_context: ssl.SSLContext | None = None,
        resolve: Callable[[str, int], Any] | None = None,
    ) -> None:
        self._policy = policy
        self._ssl = ssl_context or ssl.create_default_context()
        self._resolve = resolve or _system_resolve

    async def download(
        self,
        url: str,
        destination: Path,
        limits: FetchLimits,
        *,
        head_check: HeadCheck | None = None,
        head_bytes: int = 0,
    ) -> Fetched:
        """Streams the body of a 2xx answer into `destination`. `head_check` sees the first `head_bytes` (or the
        whole body when shorter) and may refuse them with a reason before the rest is fetched."""
        try:
            async with asyncio.timeout(limits.total_seconds):
                return await self._download(url, destination, limits, head_check, head_bytes)
        except TimeoutError as error:
            raise OutboundRefused(f"the download took longer than {limits.total_seconds:.0f} s") from error
        except AddressRefused as error:
            raise OutboundRefused(str(error)) from error

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], limits: FetchLimits) -> int:
        """POSTs `body` and returns the answer's status; redirects are not followed (a webhook's endpoint is the
        URL it was registered with). Refusals of the URL or its addresses raise OutboundRefused."""
        try:
            async with asyncio.timeout(limits.total_seconds):
                target = self._policy.target(url.strip())
                async with self._answer(
                    target, limits, None, method="POST", body=body, extra_headers=headers
                ) as answer:
                    await _read_at_most(answer, limits.max_bytes)
                    return int(answer.status)
        except TimeoutError as error:
            raise OutboundUnavailable(f"no answer within {limits.total_seconds:.0f} s") from error
        except AddressRefused as error:
            raise OutboundRefused(str(error)) from error

    async def _download(
        self, url: str, destination: Path, limits: FetchLimits, head_check: HeadCheck | None, head_bytes: int
    ) -> Fetched:
        current = url.strip()
        parts, first = urlsplit(current), self._policy.target(current)
        credentials = _basic_auth(parts.username, parts.password)
        for _hop in range(limits.max_redirects + 1):
            target = self._policy.target(current)
            # Credentials in the URL go to the origin they were written for, never to one a redirect names.
            same_origin = (target.scheme, target.host, target.port) == (first.scheme, first.host, first.port)
            async with self._answer(target, limits, credentials if same_origin else None) as response:
                if response.status in REDIRECTS:
                    location = _header(response.headers, b"location")
                    if not location:
                        raise OutboundRefused(f"{_status(response.status)} without a Location")
                    following = urljoin(current, location)
                    log.info("%s redirects to %s", redact(current), redact(following))
                    current = following
                    continue
                if not 200 <= response.status < 300:
                    error = OutboundUnavailable if response.status in TRANSIENT_STATUSES else OutboundRefused
                    raise error(_status(response.status))
                size = await _store_body(response, destination, limits.max_bytes, head_check, head_bytes)
                content_type = _header(response.headers, b"content-type")
                return Fetched(size, content_type, redact(current))
        raise OutboundRefused(f"more than {limits.max_redirects} redirects")

    @contextlib.asynccontextmanager
    async def _answer(
        self,
        target: Target,
        limits: FetchLimits,
        credentials: bytes | None,
        *,
        method: str = "GET",
        body: bytes = b"",
        extra_headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[Any]:
        addresses = await self._addresses(target)
        headers = [
            (b"Host", target.host_header.encode()),
            (b"User-Agent", USER_AGENT),
            (b"Accept-Encoding", b"identity"),
            *((name.encode(), value.encode()) for name, value in (extra_headers or {}).items()),
        ]
        if credentials:
            headers.append((b"Authorization", credentials))
        url = httpcore.URL(
            scheme=target.scheme.encode(),
            host=target.host.encode(),
            port=target.port,
            target=target.request_target.encode(),
        )
        timeouts = {"connect": limits.connect_seconds, "read": limits.read_seconds, "write": limits.read_seconds}
        pool = httpcore.AsyncConnectionPool(
            ssl_context=self._ssl, network_backend=PinnedBackend(addresses), max_connections=1, retries=0
        )
        try:
            request = pool.stream(method, url, headers=headers, content=body or None, extensions={"timeout": timeouts})
            async with pool, request as response:
                yield response
        except httpcore.TimeoutException as error:
            raise OutboundUnavailable(f"{target.host} did not answer in time") from error
        except httpcore.ConnectError as error:
            if _certificate_refused(error):
                raise OutboundRefused(f"the TLS certificate of {target.host} could not be verified") from error
            raise OutboundUnavailable(f"could not connect to {target.host}:{target.port}") from error
        except (httpcore.NetworkError, httpcore.RemoteProtocolError) as error:
            raise OutboundUnavailable(f"the connection to {target.host} failed") from error
        except httpcore.ProtocolError as error:
            raise OutboundRefused(f"{target.host} did not answer in HTTP") from error

    async def _addresses(self, target: Target) -> list[IPAddress]:
        if target.literal is not None:
            return [target.literal]
        try:
            found = await self._resolve(target.host, target.port)
        except socket.gaierror as error:
            if error.errno == socket.EAI_NONAME:
                raise OutboundRefused(f"the host {target.host} does not exist") from error
            raise OutboundUnavailable(f"the host {target.host} could not be resolved") from error
        return self._policy.check_addresses(target, list(found))


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the checked addresses whatever host the connection names: the name is used only for TLS."""

    def __init__(self, addresses: Iterable[IPAddress]) -> None:
        self._addresses = list(addresses)
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        failure: Exception | None = None
        for address in self._addresses:
            try:
                return await self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("outbound requests never use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def _system_resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives, in its order, each once."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = parse_ip_literal(str(sockaddr[0]))
        if address is not None and address not in addresses:
            addresses.append(address)
    return addresses


async def _store_body(
    response: Any, destination: Path, max_bytes: int, head_check: HeadCheck | None, head_bytes: int
) -> int:
    declared = _header(response.headers, b"content-length")
    if declared.isdigit() and int(declared) > max_bytes:
        raise OutboundRefused(f"the file is {int(declared)} bytes, over the {max_bytes}-byte limit")
    size, head, checked = 0, b"", head_check is None
    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("wb") as out:
        async for chunk in response.aiter_stream():
            size += len(chunk)
            if size > max_bytes:
                raise OutboundRefused(f"the file is over the {max_bytes}-byte limit")
            if not checked:
                head += chunk
                if len(head) >= head_bytes:
                    checked = True
                    _check_head(head_check, head)
            out.write(chunk)
    if not checked:
        _check_head(head_check, head)
    return size


def _check_head(head_check: HeadCheck | None, head: bytes) -> None:
    if head_check is not None and (reason := head_check(head)):
        raise ContentRefused(reason)


async def _read_at_most(response: Any, max_bytes: int) -> None:
    # The answer's body means nothing to us; reading a little of it lets the connection close cleanly.
    read = 0
    async for chunk in response.aiter_stream():
        read += len(chunk)
        if read >= max_bytes:
            return


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    return next((value.decode("latin-1").strip() for key, value in headers if key.lower() == name), "")


def _status(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"HTTP {code}"


def _basic_auth(username: str | None, password: str | None) -> bytes | None:
    if not username:
        return None
    pair = f"{unquote(username)}:{unquote(password or '')}".encode()
    return b"Basic " + base64.b64encode(pair)


def _certificate_refused(error: Exception) -> bool:
    cause = error.__cause__ or error.__context__
    return isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(error)
