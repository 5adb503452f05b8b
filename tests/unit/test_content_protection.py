"""Content protection's pure parts: keys sealed at rest, ClearKey licences, the manifests players are served, and
HLS whole-segment AES-128."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from pathlib import Path

import m3u8
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from videoforge.content_protection import ContentKey, b64url, from_b64url
from videoforge.job.adapters.key_sealing import KeySealer
from videoforge.media_model import EncodingOptions
from videoforge.streaming.domain.protection import (
    CLEARKEY_SYSTEM,
    MP4_PROTECTION_SCHEME,
    clearkey_license,
    common_pssh,
    dash_with_clearkey,
    hls_with_aes128,
    plays_over,
)
from videoforge.transcoder.domain.hls_encryption import (
    decrypt_segment,
    encrypt_segment,
    media_segment_number,
    sequence_iv,
)
from videoforge.transcoder.encrypted_upload import encrypting_upload

KEY = ContentKey(bytes(range(16)), bytes(range(16, 32)))
MPD = "{urn:mpeg:dash:schema:mpd:2011}"
CENC = "{urn:mpeg:cenc:2013}"
DASHIF = "{https://dashif.org/CPS}"


def test_a_sealed_key_opens_only_for_its_video_and_with_its_secret() -> None:
    sealer = KeySealer(b"s" * 32)
    sealed = sealer.seal(KEY.key, "video-a")

    assert KEY.key not in sealed
    assert sealer.open(sealed, "video-a") == KEY.key
    assert sealer.seal(KEY.key, "video-a") != sealed, "a fresh nonce each time"
    with pytest.raises(ValueError, match="does not open"):
        sealer.open(sealed, "video-b")
    with pytest.raises(ValueError, match="does not open"):
        KeySealer(b"t" * 32).open(sealed, "video-a")
    with pytest.raises(ValueError, match="32 bytes"):
        KeySealer(b"short")


def test_content_keys_are_random_sixteen_bytes_and_never_shown() -> None:
    first, second = ContentKey.generate(), ContentKey.generate()

    assert len(first.key) == len(first.key_id) == 16 and first != second
    assert first.key.hex() not in repr(first)
    assert KEY.kid_uuid == "00010203-0405-0607-0809-0a0b0c0d0e0f"
    with pytest.raises(ValueError):
        ContentKey(b"x" * 15, b"y" * 16)


def test_a_clearkey_licence_holds_the_key_asked_for_as_a_json_web_key() -> None:
    (jwk,) = clearkey_license([b64url(KEY.key_id)], KEY)

    assert (jwk.kty, jwk.kid, jwk.k) == ("oct", "AAECAwQFBgcICQoLDA0ODw", b64url(KEY.key))
    assert "=" not in jwk.k and from_b64url(jwk.k) == KEY.key
    assert clearkey_license([b64url(b"\xff" * 16)], KEY) == [], "another key ID gets nothing"
    for bad in ([], ["not base64url!"], [b64url(KEY.key_id)] * 17):
        with pytest.raises(ValueError):
            clearkey_license(bad, KEY)


MUXED_MPD = """<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static">
  <Period id="0">
    <AdaptationSet id="0" contentType="video">
      <Representation id="0" mimeType="video/mp4" codecs="avc1.64001f" bandwidth="1" width="1280" height="720">
        <SegmentTemplate initialization="https://edge/0/init.mp4?s" media="https://edge/0/$Number$.m4s?s"/>
      </Representation>
    </AdaptationSet>
    <AdaptationSet id="1" contentType="audio" lang="en">
      <Representation id="1" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="1"/>
    </AdaptationSet>
  </Period>
</MPD>"""


def test_a_clearkey_mpd_names_cenc_and_the_clearkey_system_first_in_every_adaptation_set() -> None:
    served = ET.fromstring(dash_with_clearkey(MUXED_MPD, KEY, "https://edge/api/stream/v/license?token=t"))

    sets = list(served.iter(f"{MPD}AdaptationSet"))
    assert len(sets) == 2
    for adaptation_set in sets:
        scheme, system = list(adaptation_set)[:2]
        assert scheme.tag == system.tag == f"{MPD}ContentProtection"
        assert scheme.attrib == {
            "schemeIdUri": MP4_PROTECTION_SCHEME,
            "value": "cenc",
            f"{CENC}default_KID": KEY.kid_uuid,
        }
        assert system.get("schemeIdUri") == CLEARKEY_SYSTEM
        assert system.findtext(f"{DASHIF}Laurl") == "https://edge/api/stream/v/license?token=t"
        assert base64.b64decode(system.findtext(f"{CENC}pssh") or "") == common_pssh(KEY.key_id)
        assert adaptation_set.find(f"{MPD}Representation") is not None, "the rest stays"


MEDIA_PLAYLIST = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:1
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MAP:URI="https://edge/0/init.mp4?s"
#EXTINF:2.000,
https://edge/0/1.m4s?s
#EXTINF:2.000,
https://edge/0/2.m4s?s
#EXT-X-ENDLIST
"""

MASTER_PLAYLIST = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-STREAM-INF:BANDWIDTH=1000,RESOLUTION=640x360,CODECS="avc1.64001e"
https://edge/api/stream/v/manifest/media_0.m3u8?token=t
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100,URI="https://edge/api/stream/v/manifest/media_0-iframes.m3u8?token=t"
"""


def test_an_aes128_media_playlist_keys_its_segments_but_not_its_init_segment() -> None:
    served = hls_with_aes128(MEDIA_PLAYLIST, "https://edge/api/stream/v/key?token=t")

    lines = served.splitlines()
    at = lines.index('#EXT-X-MAP:URI="https://edge/0/init.mp4?s"')
    assert lines[at + 1] == '#EXT-X-KEY:METHOD=AES-128,URI="https://edge/api/stream/v/key?token=t"'
    parsed = m3u8.loads(served)
    assert [(s.key.method, s.key.uri, s.key.iv) for s in parsed.segments] == [
        ("AES-128", "https://edge/api/stream/v/key?token=t", None)
    ] * 2, "no IV: each segment's is its media sequence number"


def test_an_aes128_master_playlist_drops_its_iframe_playlists() -> None:
    served = m3u8.loads(hls_with_aes128(MASTER_PLAYLIST, "https://edge/key"))

    assert not served.iframe_playlists and len(served.playlists) == 1
    assert not served.keys or served.keys == [None]


def test_each_protection_plays_over_its_own_protocol() -> None:
    assert plays_over("clearkey") == {"dash"}
    assert plays_over("aes-128") == {"hls"}
    assert plays_over("") == {"hls", "dash"}


def test_hls_segments_are_whole_aes128_cbc_with_their_sequence_number_as_iv() -> None:
    data = b"moof" * 1000 + b"tail"
    encrypted = encrypt_segment(data, KEY.key, 7)

    assert len(encrypted) % 16 == 0 and len(encrypted) > len(data)
    assert decrypt_segment(encrypted, KEY.key, 7) == data
    assert encrypt_segment(data, KEY.key, 8) != encrypted
    assert sequence_iv(7) == bytes(15) + b"\x07"
    # What any AES-128-CBC tool with the same key and IV reads.
    decryptor = Cipher(algorithms.AES(KEY.key), modes.CBC(sequence_iv(7))).decryptor()
    assert (decryptor.update(encrypted) + decryptor.finalize()).startswith(data)


def test_only_media_segments_are_numbered() -> None:
    assert media_segment_number("0/12.m4s") == 12
    assert media_segment_number("3/1.m4s") == 1
    for other in ("0/init.mp4", "media_0.m3u8", "manifest.mpd", "images/poster.jpg", "0/12.m4s.tmp", "12.m4s"):
        assert media_segment_number(other) is None


def test_base64url_round_trips_without_padding() -> None:
    assert b64url(b"\xfb\xff") == "-_8"
    assert from_b64url("-_8") == b"\xfb\xff" == base64.urlsafe_b64decode("-_8=")


async def test_an_aes128_upload_without_its_key_refuses_before_anything_is_stored(tmp_path: Path) -> None:
    async def upload(path: Path, relative: str) -> None:
        raise AssertionError("nothing is stored")

    with pytest.raises(ValueError, match="content key"):
        encrypting_upload(upload, EncodingOptions.parse([], "aes-128"), tmp_path)
    assert encrypting_upload(upload, EncodingOptions(), tmp_path) is upload, "a video in the clear goes up as it is"


def test_the_sealing_secret_is_read_raw_or_in_base64(tmp_path: Path) -> None:
    secret = bytes(range(32))
    sealed = KeySealer(secret).seal(KEY.key, "v")
    (tmp_path / "raw").write_bytes(secret)
    (tmp_path / "base64").write_text(base64.b64encode(secret).decode() + "\n")

    for name in ("raw", "base64"):
        assert KeySealer.from_file(tmp_path / name).open(sealed, "v") == KEY.key


def test_the_pssh_box_names_the_common_system_and_the_key_id() -> None:
    box = common_pssh(KEY.key_id)

    assert int.from_bytes(box[:4], "big") == len(box) == 52 and box[4:8] == b"pssh"
    assert box[8] == 1, "version 1: key IDs listed"
    assert box[12:28] == bytes.fromhex("1077efecc0b24d02ace33c1e52e2fb4b")
    assert int.from_bytes(box[28:32], "big") == 1 and box[32:48] == KEY.key_id
    assert box[48:] == bytes(4), "no system data"
