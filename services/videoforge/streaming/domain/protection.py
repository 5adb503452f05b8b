"""What a protected video's players are told, written into its manifests as they are served, and the keys they get.

`clearkey` videos play over DASH: their segments are CENC-encrypted (AES-CTR), and each AdaptationSet of the MPD
names the scheme with the key ID and the ClearKey system with its licence URL (`dashif:Laurl`). `aes-128` videos
play over HLS: each media playlist gets an EXT-X-KEY after its EXT-X-MAP (init segments are in the clear, media
segments whole-segment AES-128-CBC with their sequence number as IV), and the master loses its I-frame playlists,
whose byte ranges cannot be decrypted alone. Licence and key URLs are made here per request, carrying the grant.
"""

from __future__ import annotations

import base64
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from videoforge.content_protection import ContentKey, b64url, from_b64url

CLEARKEY = "clearkey"
AES_128 = "aes-128"
_MPD_NS = "urn:mpeg:dash:schema:mpd:2011"
_CENC_NS = "urn:mpeg:cenc:2013"
_DASHIF_NS = "https://dashif.org/CPS"
MP4_PROTECTION_SCHEME = "urn:mpeg:dash:mp4protection:2011"
CLEARKEY_SYSTEM = "urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e"
COMMON_PSSH_SYSTEM = bytes.fromhex("1077efecc0b24d02ace33c1e52e2fb4b")  # W3C Common PSSH Box Format
_MAP = "#EXT-X-MAP:"
_IFRAME_STREAM = "#EXT-X-I-FRAME-STREAM-INF:"
MAX_LICENSE_KIDS = 16


def plays_over(protection: str) -> frozenset[str]:
    """The protocols (`hls`, `dash`) a video with this protection plays over."""
    return {CLEARKEY: frozenset({"dash"}), AES_128: frozenset({"hls"})}.get(protection, frozenset({"hls", "dash"}))


def dash_with_clearkey(mpd: str, key: ContentKey, license_url: str) -> str:
    """The MPD with CENC and ClearKey ContentProtection first in every AdaptationSet."""
    ET.register_namespace("", _MPD_NS)
    ET.register_namespace("cenc", _CENC_NS)
    ET.register_namespace("dashif", _DASHIF_NS)
    root = ET.fromstring(mpd)
    for adaptation_set in root.iter(f"{{{_MPD_NS}}}AdaptationSet"):
        scheme = ET.Element(f"{{{_MPD_NS}}}ContentProtection", {"schemeIdUri": MP4_PROTECTION_SCHEME, "value": "cenc"})
        scheme.set(f"{{{_CENC_NS}}}default_KID", key.kid_uuid)
        system = ET.Element(f"{{{_MPD_NS}}}ContentProtection", {"schemeIdUri": CLEARKEY_SYSTEM, "value": "ClearKey1.0"})
        ET.SubElement(system, f"{{{_DASHIF_NS}}}Laurl").text = license_url
        ET.SubElement(system, f"{{{_CENC_NS}}}pssh").text = base64.b64encode(common_pssh(key.key_id)).decode()
        adaptation_set[0:0] = [scheme, system]
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def common_pssh(key_id: bytes) -> bytes:
    """A version-1 `pssh` box of the W3C Common system naming the key ID: the `cenc` init data a browser's ClearKey
    CDM asks its licence for. The muxer writes none into the init segments, so the MPD carries it."""
    body = struct.pack(">I", 1 << 24) + COMMON_PSSH_SYSTEM + struct.pack(">I", 1) + key_id + struct.pack(">I", 0)
    return struct.pack(">I", 8 + len(body)) + b"pssh" + body


def hls_with_aes128(playlist: str, key_url: str) -> str:
    """A media playlist with its key tag after its EXT-X-MAP; a master playlist without I-frame playlists."""
    lines = playlist.splitlines()
    if any(line.startswith(_MAP) for line in lines):
        at = next(i for i, line in enumerate(lines) if line.startswith(_MAP)) + 1
        lines.insert(at, f'#EXT-X-KEY:METHOD=AES-128,URI="{key_url}"')
    else:
        lines = [line for line in lines if not line.startswith(_IFRAME_STREAM)]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class JsonWebKey:
    kty: str
    kid: str
    k: str


def clearkey_license(kids: list[str], key: ContentKey) -> list[JsonWebKey]:
    """The keys among `kids` (base64url key IDs, as a ClearKey licence request names them) that the video has.

    Raises ValueError for a request that is not one.
    """
    if not kids or len(kids) > MAX_LICENSE_KIDS:
        raise ValueError(f"a licence request names 1 to {MAX_LICENSE_KIDS} key IDs")
    wanted = {from_b64url(kid) for kid in kids}
    return [JsonWebKey("oct", b64url(key.key_id), b64url(key.key))] if key.key_id in wanted else []
