"""The outbound client against a real web server on loopback, exempted by name as OUTBOUND_ALLOWED_HOSTS would:
files come down within their caps, each redirect is checked like the first, the connection goes to the address
that was checked while TLS and the Host header keep the URL's name, and failures say what happened."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.media_host import MediaHost, Page
from videoforge.kit.address_policy import AddressPolicy, IPAddress
from videoforge.kit.outbound import ContentRefused, FetchLimits, OutboundClient, OutboundRefused, OutboundUnavailable
from videoforge.transcoder.domain.media import SNIFF_BYTES, sniff_refusal

LIMITS = FetchLimits(max_bytes=1024 * 1024, total_seconds=10, read_seconds=5)
VIDEO = b"\x00\x00\x00\x20ftypisom" + bytes(range(256)) * 1000
LOOPBACK = ipaddress.ip_address("127.0.0.1")


@pytest.fixture
def host() -> Iterator[MediaHost]:
    server = MediaHost()
    yield server
    server.close()


def client_for(*allowed: str, resolve_to: IPAddress = LOOPBACK, **options: object) -> tuple[OutboundClient, list[str]]:
    """A client whose resolver answers `resolve_to` for every name and notes each lookup."""
    lookups: list[str] = []

    async def resolve(name: str, port: int) -> list[IPAddress]:
        lookups.append(name)
        return [resolve_to]

    return OutboundClient(AddressPolicy.from_setting(list(allowed)), resolve=resolve, **options), lookups  # type: ignore[arg-type]


async def test_an_allowed_host_serves_a_file_over_http(host: MediaHost, tmp_path: Path) -> None:
    host.put("/clip.mp4", Page(body=VIDEO, headers={"Content-Type": "video/mp4"}))
    client, _ = client_for(host.address)

    fetched = await client.download(f"http://{host.address}/clip.mp4?sig=secret", tmp_path / "clip", LIMITS)

    assert (tmp_path / "clip").read_bytes() == VIDEO
    assert (fetched.size, fetched.content_type) == (len(VIDEO), "video/mp4")
    assert fetched.final_url == f"http://{host.address}/clip.mp4?…", "no query in what is shown"
    assert host.seen[0].path == "/clip.mp4?sig=secret" and host.seen[0].host == host.address


async def test_redirects_are_followed_and_each_is_checked(host: MediaHost, tmp_path: Path) -> None:
    host.put("/final.mp4", Page(body=VIDEO, chunked=True))
    host.redirect("/a", "/b", 301)
    host.redirect("/b", f"http://{host.address}/final.mp4", 307)
    client, _ = client_for(host.address)

    fetched = await client.download(f"http://{host.address}/a", tmp_path / "clip", LIMITS)

    assert fetched.size == len(VIDEO) and [s.path for s in host.seen] == ["/a", "/b", "/final.mp4"]


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://127.0.0.1:{other}/clip.mp4", "only https:// URLs are accepted, not http:// ones"),
        ("https://127.0.0.1:{other}/clip.mp4", "127.0.0.1 is a loopback address"),
        ("https://2130706433/clip.mp4", "127.0.0.1 is a loopback address"),
        ("https://[::ffff:169.254.169.254]/latest/meta-data/", "::ffff:a9fe:a9fe is a cloud metadata address"),
        ("https://metadata.internal/latest/meta-data/", "127.0.0.1 is a loopback address"),
        ("file:///etc/passwd", "only https:// URLs are accepted, not file:// ones"),
    ],
)
async def test_a_redirect_from_an_allowed_host_to_a_forbidden_address_is_refused(
    host: MediaHost, tmp_path: Path, location: str, reason: str
) -> None:
    host.redirect("/clip.mp4", location.format(other=host.port + 1))
    client, _ = client_for(host.address)

    with pytest.raises(OutboundRefused) as refused:
        await client.download(f"http://{host.address}/clip.mp4", tmp_path / "clip", LIMITS)

    assert str(refused.value).startswith(reason)
    assert not (tmp_path / "clip").exists()


async def test_more_than_five_redirects_are_refused(host: MediaHost, tmp_path: Path) -> None:
    for hop in range(6):
        host.redirect(f"/{hop}", f"/{hop + 1}")
    host.put("/6", Page(body=VIDEO))
    client, _ = client_for(host.address)

    with pytest.raises(OutboundRefused, match="more than 5 redirects"):
        await client.download(f"http://{host.address}/0", tmp_path / "clip", LIMITS)
    assert len(host.seen) == 6


async def test_an_error_answer_is_named_and_classified(host: MediaHost, tmp_path: Path) -> None:
    host.put("/busy", Page(503, b"try later"))
    client, _ = client_for(host.address)

    with pytest.raises(OutboundRefused, match=r"^404 Not Found$"):
        await client.download(f"http://{host.address}/missing.mp4", tmp_path / "clip", LIMITS)
    with pytest.raises(OutboundUnavailable, match=r"^503 Service Unavailable$"):
        await client.download(f"http://{host.address}/busy", tmp_path / "clip", LIMITS)


async def test_a_file_over_the_size_cap_is_refused_declared_or_not(host: MediaHost, tmp_path: Path) -> None:
    host.put("/declared", Page(body=VIDEO))
    host.put("/chunked", Page(body=VIDEO, chunked=True))
    client, _ = client_for(host.address)
    small = FetchLimits(max_bytes=100_000, total_seconds=10)

    with pytest.raises(OutboundRefused, match="over the 100000-byte limit"):
        await client.download(f"http://{host.address}/declared", tmp_path / "clip", small)
    with pytest.raises(OutboundRefused, match="over the 100000-byte limit"):
        await client.download(f"http://{host.address}/chunked", tmp_path / "clip", small)


async def test_content_is_sniffed_from_its_first_bytes(host: MediaHost, tmp_path: Path) -> None:
    host.put("/page", Page(body=b"<!DOCTYPE html><html>" + b" " * 100_000, chunked=True))
    host.put("/tiny", Page(body=b"#EXTM3U\n#EXTINF:1,\nhttp://10.0.0.1/a.ts\n"))
    client, _ = client_for(host.address)

    for path, reason in (("/page", "The file is an HTML page"), ("/tiny", "The file is an HLS playlist")):
        with pytest.raises(ContentRefused, match=reason):
            await client.download(
                f"http://{host.address}{path}",
                tmp_path / "clip",
                LIMITS,
                head_check=sniff_refusal,
                head_bytes=SNIFF_BYTES,
            )


async def test_a_download_past_its_time_is_refused(host: MediaHost, tmp_path: Path) -> None:
    host.put("/slow", Page(body=VIDEO, stall=3))
    client, _ = client_for(host.address)

    with pytest.raises(OutboundRefused, match="took longer than 1 s"):
        await client.download(f"http://{host.address}/slow", tmp_path / "clip", FetchLimits(10**6, total_seconds=1))


async def test_nothing_listening_is_unavailable_for_now(tmp_path: Path) -> None:
    client, _ = client_for("127.0.0.1:9")

    with pytest.raises(OutboundUnavailable, match=re.escape("could not connect to 127.0.0.1:9")):
        await client.download("http://127.0.0.1:9/clip.mp4", tmp_path / "clip", LIMITS)


async def test_a_name_that_resolves_to_a_private_address_is_refused_without_connecting(tmp_path: Path) -> None:
    client, lookups = client_for(resolve_to=ipaddress.ip_address("10.1.2.3"))

    with pytest.raises(OutboundRefused, match=re.escape("10.1.2.3 is a private address")):
        await client.download("https://media.example.com/clip.mp4", tmp_path / "clip", LIMITS)
    assert lookups == ["media.example.com"]


async def test_https_connects_to_the_checked_address_and_verifies_the_name(tmp_path: Path) -> None:
    server = MediaHost(tls_names=("media.test",))
    try:
        server.put("/clip.mp4", Page(body=VIDEO))
        client, lookups = client_for(f"media.test:{server.port}", ssl_context=server.client_context())

        url = f"https://user:p%40ss@media.test:{server.port}/clip.mp4"
        fetched = await client.download(url, tmp_path / "clip", LIMITS)

        # No resolver knows media.test: the bytes came from the one address looked up, once.
        assert fetched.size == len(VIDEO) and lookups == ["media.test"]
        assert server.server_names == ["media.test"], "TLS named the URL's host"
        assert server.seen[0].host == f"media.test:{server.port}"
        assert server.seen[0].authorization == "Basic dXNlcjpwQHNz"
    finally:
        server.close()


async def test_a_certificate_for_another_name_is_refused(tmp_path: Path) -> None:
    server = MediaHost(tls_names=("other.test",))
    try:
        client, _ = client_for(f"media.test:{server.port}", ssl_context=server.client_context())

        with pytest.raises(OutboundRefused, match=re.escape("TLS certificate of media.test could not be verified")):
            await client.download(f"https://media.test:{server.port}/clip.mp4", tmp_path / "clip", LIMITS)
        assert not server.seen
    finally:
        server.close()


async def test_credentials_never_follow_a_redirect_to_another_origin(tmp_path: Path) -> None:
    first, second = MediaHost(), MediaHost()
    try:
        second.put("/clip.mp4", Page(body=VIDEO))
        first.redirect("/clip.mp4", f"http://{second.address}/clip.mp4")
        client, _ = client_for(first.address, second.address)

        await client.download(f"http://user:secret@{first.address}/clip.mp4", tmp_path / "clip", LIMITS)

        assert first.seen[0].authorization is not None and second.seen[0].authorization is None
    finally:
        first.close()
        second.close()
