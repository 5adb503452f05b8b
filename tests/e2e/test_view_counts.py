"""Views through the edge: reading a video counts a view without writing its row each time, and the stored
total comes out exact."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.fixtures.platform import RunningPlatform
from tests.media_factory import MediaFactory
from tests.waiting import wait_until
from videoforge.client.edge import EdgeClient

pytestmark = pytest.mark.e2e
VIEWS = 40


async def test_parallel_views_reach_an_exact_stored_total(
    platform: RunningPlatform, media_factory: MediaFactory
) -> None:
    owner = EdgeClient(platform.url)
    owner.register(f"views-{uuid.uuid4().hex[:8]}@example.com", "views-pass-word-1")
    video = owner.upload(await media_factory.tiny(), title="counted", visibility="public")
    viewer = EdgeClient(platform.url)

    def view(_: int) -> int:
        return int(viewer.request("GET", f"/v1/videos/{video['id']}")["viewCount"])

    with ThreadPoolExecutor(8) as pool:
        answered = list(pool.map(view, range(VIEWS)))
    # Each answer already counts its own view; none counts more than there were.
    assert min(answered) >= 1 and max(answered) <= VIEWS

    def stored_views() -> bool:
        # The owner's library reads the stored total and counts nothing.
        library = owner.request("GET", "/api/gallery/my-videos")["videos"]
        return int(next(v for v in library if v["id"] == video["id"]).get("viewCount", 0)) == VIEWS

    wait_until(stored_views, 10)
    assert view(0) == VIEWS + 1
