"""Pagination both ways clients ask for it: `page`/`limit` (1-based) or `page_size`/`page_token` (AIP-158)."""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass

from videoforge.kit.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# The deepest offset a listing reaches; far past any real one, and well inside PostgreSQL's bigint.
MAX_OFFSET = 2**31 - 1
_TOKEN = re.compile(r"o([0-9]{1,10})")


@dataclass(frozen=True)
class PageRequest:
    offset: int
    limit: int

    @property
    def page(self) -> int:
        return self.offset // self.limit + 1


@dataclass(frozen=True)
class PageInfo:
    next_page_token: str
    total: int
    page: int
    limit: int
    total_pages: int
    total_capped: bool = False


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode().rstrip("=")


def _decode(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raw = ""
    # Only what _encode writes: no sign, no spaces, no underscores, no number past the deepest page.
    match = _TOKEN.fullmatch(raw)
    if match is None or int(match[1]) > MAX_OFFSET:
        raise InvalidArgument.for_field("page_token", "is not a token this API returned", "BAD_PAGE_TOKEN")
    return int(match[1])


def page_request(*, page_size: int = 0, page_token: str = "", page: int = 0, limit: int = 0) -> PageRequest:
    for name, value in (("page", page), ("limit", limit), ("page_size", page_size)):
        if value < 0:
            raise InvalidArgument.for_field(name, "must not be negative", "BAD_PAGE")
    size = min(limit or page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    if page_token:
        return PageRequest(_decode(page_token), size)
    offset = (max(page, 1) - 1) * size
    if offset > MAX_OFFSET:
        raise InvalidArgument.for_field("page", f"reaches past the deepest page ({MAX_OFFSET // size + 1})", "BAD_PAGE")
    return PageRequest(offset, size)


def page_info(request: PageRequest, returned: int, total: int, *, cap: int | None = None) -> PageInfo:
    """`total` may be a count that stopped past `cap`: it is then reported as `cap`, flagged as capped."""
    capped = cap is not None and total > cap
    shown = cap if capped and cap is not None else total
    more = request.offset + returned < total
    return PageInfo(
        next_page_token=_encode(request.offset + returned) if more else "",
        total=shown,
        page=request.page,
        limit=request.limit,
        total_pages=math.ceil(shown / request.limit) if shown else 0,
        total_capped=capped,
    )


def parse_filter(text: str, allowed: tuple[str, ...]) -> dict[str, str]:
    """`key=value AND key=value` with keys from `allowed`."""
    terms: dict[str, str] = {}
    for term in filter(None, (t.strip() for t in text.replace(" and ", " AND ").split(" AND "))):
        key, sep, value = term.partition("=")
        key, value = key.strip(), value.strip().strip('"')
        if not sep or key not in allowed or not value:
            raise InvalidArgument.for_field(
                "filter", f"{term!r} is not understood; use key=value with keys {', '.join(allowed)}", "BAD_FILTER"
            )
        terms[key] = value
    return terms
