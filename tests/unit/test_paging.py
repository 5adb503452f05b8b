"""Both ways of paging: page/limit and page_size/page_token, and counts that stop at a cap."""

from __future__ import annotations

import base64

import pytest

from videoforge.kit.errors import InvalidArgument
from videoforge.kit.paging import MAX_OFFSET, page_info, page_request, parse_filter


def test_page_and_limit_map_to_an_offset() -> None:
    request = page_request(page=3, limit=10)
    assert (request.offset, request.limit, request.page) == (20, 10, 3)


def test_tokens_continue_where_the_last_page_ended() -> None:
    first = page_info(page_request(page_size=5), returned=5, total=12)
    second = page_request(page_size=5, page_token=first.next_page_token)
    assert second.offset == 5
    last = page_info(page_request(page_size=5, page_token=page_info(second, 5, 12).next_page_token), 2, 12)
    assert last.next_page_token == ""


def test_a_count_past_the_cap_is_reported_as_capped() -> None:
    info = page_info(page_request(limit=20), returned=20, total=10_001, cap=10_000)
    assert (info.total, info.total_capped, info.total_pages) == (10_000, True, 500)
    assert not page_info(page_request(limit=20), returned=20, total=9_999, cap=10_000).total_capped


def test_bad_tokens_and_filters_are_invalid_arguments() -> None:
    with pytest.raises(InvalidArgument):
        page_request(page_token="not-ours")
    with pytest.raises(InvalidArgument):
        parse_filter("colour=red", ("status",))
    assert parse_filter("status=ready AND owner=me", ("status", "owner")) == {"status": "ready", "owner": "me"}


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [_token(f"o{2**63 + 5}"), _token(f"o{MAX_OFFSET + 1}"), _token("o-5"), _token("o 5"), _token("o1_0"), "\x00", "é"],
)
def test_page_tokens_this_api_never_wrote_are_refused(token: str) -> None:
    with pytest.raises(InvalidArgument) as refusal:
        page_request(page_token=token)

    assert refusal.value.message == "page_token: is not a token this API returned"


def test_negative_and_unreachable_pages_are_refused_naming_the_field() -> None:
    with pytest.raises(InvalidArgument, match=r"^limit: must not be negative"):
        page_request(limit=-1)
    with pytest.raises(InvalidArgument, match=r"^page: reaches past the deepest page"):
        page_request(page=2**31 - 1, limit=100)
    assert page_request(page_token=_token(f"o{MAX_OFFSET}")).offset == MAX_OFFSET
