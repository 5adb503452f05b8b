"""Both ways of paging: page/limit and page_size/page_token, and counts that stop at a cap."""

from __future__ import annotations

import pytest

from videoforge.kit.errors import InvalidArgument
from videoforge.kit.paging import page_info, page_request, parse_filter


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
