"""The checks every request passes before a servicer sees it: NUL characters, lengths, ranges, enums."""

from __future__ import annotations

import math

import pytest
from google.protobuf import field_mask_pb2, timestamp_pb2

from videoforge.gallery.v1 import gallery_pb2
from videoforge.identity.v1 import identity_pb2
from videoforge.job.v1 import job_pb2
from videoforge.kit.errors import FieldViolation, InvalidArgument
from videoforge.kit.request_checks import MAX_STRING_CHARS, MAX_TEXT_CHARS, check_request


def _refusal(request: object) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as refusal:
        check_request(request)  # type: ignore[arg-type]
    return refusal.value


def test_a_nul_character_in_any_string_is_refused_naming_the_field() -> None:
    refusal = _refusal(identity_pb2.LoginRequest(email="a\x00@x.io", password="x"))

    assert refusal.message == "email: must not contain NUL characters"
    assert refusal.reason == "NUL_CHARACTER"
    assert refusal.violations == [FieldViolation("email", "must not contain NUL characters")]


def test_nested_and_repeated_fields_are_named_by_their_path() -> None:
    update = gallery_pb2.UpdateVideoRequest(video=gallery_pb2.Video(title="fine", description="bad\x00"))
    job = gallery_pb2.CreateVideoJobRequest(video_id="v", output_formats=["720p", "\x00"])

    assert _refusal(update).message.startswith("video.description: ")
    assert _refusal(job).message.startswith("output_formats[1]: ")


def test_strings_past_their_length_are_refused_with_the_limit() -> None:
    long_search = _refusal(gallery_pb2.ListVideosRequest(search="a" * (MAX_STRING_CHARS + 1)))
    long_text = _refusal(
        gallery_pb2.UpdateVideoRequest(video=gallery_pb2.Video(description="a" * (MAX_TEXT_CHARS + 1)))
    )

    assert long_search.message == f"search: must be at most {MAX_STRING_CHARS} characters"
    assert long_text.message == f"video.description: must be at most {MAX_TEXT_CHARS} characters"
    check_request(gallery_pb2.UpdateVideoRequest(video=gallery_pb2.Video(description="a" * MAX_TEXT_CHARS)))


def test_negative_counts_and_numbers_that_are_not_numbers_are_out_of_range() -> None:
    assert _refusal(gallery_pb2.ListVideosRequest(page=-1)).message == "page: must not be negative"
    assert _refusal(job_pb2.CleanupOldJobsRequest(days=-5)).reason == "OUT_OF_RANGE"
    output = job_pb2.PublishedOutput(duration_seconds=math.nan)
    assert _refusal(output).message == "duration_seconds: must be a finite number"


def test_an_enum_number_the_proto_does_not_define_is_refused() -> None:
    request = job_pb2.ReportProgressRequest(job_id="j", attempt=1)
    request.state = 99  # type: ignore[assignment]

    assert _refusal(request).message.startswith("state: 99 is not one of STATE_UNSPECIFIED, ")


def test_well_known_types_and_ordinary_requests_pass() -> None:
    check_request(identity_pb2.LoginRequest(email="someone@example.com", password="correct-horse-9"))
    check_request(timestamp_pb2.Timestamp(seconds=-86400))
    check_request(
        gallery_pb2.UpdateVideoRequest(
            video=gallery_pb2.Video(name="videos/abc", title="Été à Paris"),
            update_mask=field_mask_pb2.FieldMask(paths=["title"]),
        )
    )
