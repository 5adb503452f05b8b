"""Caption text: SubRip becomes WebVTT; size, encoding, timings and language are checked, each naming its field."""

from __future__ import annotations

import pytest

from videoforge.gallery.domain.captions import (
    MAX_CAPTION_BYTES,
    check_format,
    check_label,
    check_language,
    decode_caption,
    language_from_tag,
    parse_caption,
)
from videoforge.kit.errors import InvalidArgument

SRT = """1
00:00:00,500 --> 00:00:02,000
<font color="#ffff00">Hello</font> <i>there</i>

2
00:00:02,500 --> 00:00:04,250
Two lines
with an arrow --> here
"""

VTT = """WEBVTT - French

NOTE a comment
that spans lines

intro
00:00.500 --> 00:02.000 line:90%
Bonjour

00:00:02.500 --> 00:00:04.000
Au revoir
"""


def _refusal(call, *args: object) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        call(*args)
    return caught.value


def test_subrip_becomes_webvtt_with_dots_and_without_font_tags() -> None:
    caption = parse_caption(SRT, "srt", 10.0)
    assert caption.webvtt == (
        "WEBVTT\n\n"
        "00:00:00.500 --> 00:00:02.000\nHello <i>there</i>\n\n"
        "00:00:02.500 --> 00:00:04.250\nTwo lines\nwith an arrow --&gt; here\n"
    )
    assert [(c.start, c.end) for c in caption.cues] == [(0.5, 2.0), (2.5, 4.25)]


def test_subrip_with_windows_line_endings_and_a_byte_order_mark_reads_the_same() -> None:
    raw = ("\ufeff" + SRT.replace("\n", "\r\n")).encode("utf-8")
    assert parse_caption(decode_caption(raw), "srt").webvtt == parse_caption(SRT, "srt").webvtt


def test_webvtt_keeps_cue_settings_and_skips_notes() -> None:
    caption = parse_caption(VTT, "vtt", 4.0)
    assert [c.text for c in caption.cues] == ["Bonjour", "Au revoir"]
    assert caption.cues[0].settings == "line:90%"
    assert caption.webvtt.startswith("WEBVTT\n\n00:00:00.500 --> 00:00:02.000 line:90%\nBonjour\n")


@pytest.mark.parametrize(
    ("content", "format_", "reason"),
    [
        ("1\n00:00:01,000 --> 00:00:00,500\nBackwards\n", "srt", "BAD_CUE_TIMING"),
        ("1\n00:00:01,000 --> 00:00:01,000\nEmpty span\n", "srt", "BAD_CUE_TIMING"),
        ("1\n00:00:61,000 --> 00:01:02,000\nBad seconds\n", "srt", "BAD_CUE_TIMING"),
        ("1\n00:00:01 --> 00:00:02\nNo millis\n", "srt", "BAD_CUE_TIMING"),
        ("WEBVTT\n\n00:01.000 -> 00:02.000\nOne arrow\n", "vtt", "BAD_CUE_TIMING"),
        ("1\n00:00:01,000 --> 00:00:02,000\nHi\n", "vtt", "BAD_WEBVTT"),
        ("WEBVTT\n\nNOTE nothing\n", "vtt", "CAPTION_EMPTY"),
        ("1\n00:00:01,000 --> 00:00:02,000\nbinary\x00junk\n", "srt", "CAPTION_NOT_TEXT"),
        ("1\n00:00:30,000 --> 00:00:40,000\nPast the end\n", "srt", "CAPTION_PAST_END"),
    ],
)
def test_malformed_or_out_of_range_cues_are_refused_naming_content(content: str, format_: str, reason: str) -> None:
    error = _refusal(parse_caption, content, format_, 10.0)
    assert error.reason == reason
    assert [v.field for v in error.violations] == ["content"]


def test_a_cue_within_the_slack_past_the_end_is_accepted() -> None:
    assert len(parse_caption("1\n00:00:09,000 --> 00:00:12,000\nCredits\n", "srt", 10.0).cues) == 1


def test_the_refusal_says_which_line_is_wrong() -> None:
    error = _refusal(parse_caption, SRT.replace("00:00:02,500 -->", "00:00:02.5 -->"), "srt", 10.0)
    assert "line 6" in error.message


def test_too_large_a_caption_is_refused_before_parsing() -> None:
    error = _refusal(decode_caption, b"x" * (MAX_CAPTION_BYTES + 1))
    assert error.reason == "CAPTION_TOO_LARGE" and error.violations[0].field == "content"
    assert _refusal(parse_caption, "x" * (MAX_CAPTION_BYTES + 1), "srt").reason == "CAPTION_TOO_LARGE"


def test_text_in_another_encoding_is_refused_naming_the_byte() -> None:
    error = _refusal(decode_caption, "1\n00:00:01,000 --> 00:00:02,000\nCafé\n".encode("latin-1"))
    assert error.reason == "CAPTION_NOT_UTF8" and "byte 35" in error.message


@pytest.mark.parametrize(
    ("tag", "canonical"),
    [("en", "en"), ("FR-ca", "fr-CA"), ("zh-hant-tw", "zh-Hant-TW"), ("es-419", "es-419"), ("pt_BR", "pt-BR")],
)
def test_bcp47_tags_are_accepted_in_conventional_case(tag: str, canonical: str) -> None:
    assert check_language(tag) == canonical


@pytest.mark.parametrize("tag", ["", "english", "e", "en-", "en--us", "en_US_x", "123", "fr-CA-toolongvariant9"])
def test_malformed_language_tags_are_refused_naming_language(tag: str) -> None:
    error = _refusal(check_language, tag)
    assert [v.field for v in error.violations] == ["language"]


def test_format_and_label_are_checked() -> None:
    assert check_format(" SRT ") == "srt" and check_format("webvtt") == "vtt"
    assert _refusal(check_format, "ass").violations[0].field == "format"
    assert check_label("  ", "fr") == "fr"
    assert _refusal(check_label, "x" * 81, "fr").violations[0].field == "label"


@pytest.mark.parametrize(
    ("tag", "language"), [("eng", "en"), ("fre", "fr"), ("ger", "de"), ("fr-CA", "fr-CA"), ("", "und"), ("x!", "und")]
)
def test_a_streams_language_tag_becomes_bcp47(tag: str, language: str) -> None:
    assert language_from_tag(tag) == language
