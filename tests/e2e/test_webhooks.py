"""Webhooks through the edge on the real platform: a user's endpoint hears, signed, that their video is ready;
a failed attempt is retried with the same id; endpoints off limits are refused when registered.

The endpoint is the tests' media host on loopback, which the platform may reach because OUTBOUND_ALLOWED_HOSTS
names it (the one exemption from the outbound address rules, as for URL import).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.fixtures.media_host import MediaHost
from tests.fixtures.platform import RunningPlatform
from tests.media_factory import MediaFactory
from tests.waiting import wait_until
from videoforge.client.edge import ApiError, EdgeClient

pytestmark = pytest.mark.e2e


def new_user(platform: RunningPlatform) -> EdgeClient:
    client = EdgeClient(platform.url)
    client.register(f"hooks-{uuid.uuid4().hex[:8]}@example.com", "webhook-pass-1")
    return client


@pytest.fixture(scope="module")
async def clip(media_factory: MediaFactory) -> Path:
    return await media_factory.hd_with_audio(2)


def test_a_ready_video_is_announced_signed_and_retried_under_one_id(
    platform: RunningPlatform, media_host: MediaHost, clip: Path
) -> None:
    path = f"/hooks/{uuid.uuid4().hex}"
    media_host.accept_posts(path, 503, 204)  # the receiver is down for the first attempt
    user = new_user(platform)
    hook = user.request(
        "POST", "/api/webhooks", json={"url": f"http://{media_host.address}{path}", "events": ["video.ready"]}
    )
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["video.ready"]
    # The secret is shown once, when the endpoint is registered.
    assert [(h["id"], h["secret"]) for h in user.request("GET", "/api/webhooks")["webhooks"]] == [(hook["id"], "")]

    video = user.upload(clip, title="announced")
    user.wait_for_video(video["id"], video["latestJob"]["jobId"], timeout=300)
    first, retried = wait_until(
        lambda: media_host.posts_to(path)[:2] if len(media_host.posts_to(path)) >= 2 else None, 60
    )

    assert first.headers["webhook-id"] == retried.headers["webhook-id"]
    event = Webhook(hook["secret"]).verify(retried.body, retried.headers)
    assert event["type"] == "video.ready"
    assert event["data"] == {"id": video["id"], "state": "ready", "jobId": video["latestJob"]["jobId"]}
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(retried.body, retried.headers)

    log = user.request("GET", f"/api/webhooks/{hook['id']}/deliveries")["deliveries"]
    assert [(d["id"], d["event"], d["state"], d["attempts"], d["lastStatus"]) for d in log] == [
        (first.headers["webhook-id"], "video.ready", "delivered", 2, 204)
    ]
    assert json.loads(log[0]["payload"]) == event
    assert len(media_host.posts_to(path)) == 2  # delivered once, never again


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://169.254.169.254/latest/meta-data", "address"),
        ("https://10.0.0.7/hook", "address"),
        ("https://[::ffff:127.0.0.1]/hook", "address"),
        ("http://hooks.example.com/plain", "https"),
        ("ftp://hooks.example.com/x", "https"),
    ],
)
def test_endpoints_off_limits_are_refused_when_registered(platform: RunningPlatform, url: str, reason: str) -> None:
    user = new_user(platform)
    with pytest.raises(ApiError) as refused:
        user.request("POST", "/api/webhooks", json={"url": url})

    assert refused.value.status == 400 and reason in refused.value.message
    assert user.request("GET", "/api/webhooks")["webhooks"] == []


def test_webhooks_are_the_owners_alone(platform: RunningPlatform, media_host: MediaHost) -> None:
    owner, stranger = new_user(platform), new_user(platform)
    hook = owner.request("POST", "/v1/webhooks", json={"url": f"http://{media_host.address}/hooks/owned"})
    assert sorted(hook["events"]) == ["video.failed", "video.ready"]  # none named: every event

    for method, route in (("GET", f"/api/webhooks/{hook['id']}/deliveries"), ("DELETE", f"/api/webhooks/{hook['id']}")):
        with pytest.raises(ApiError) as hidden:
            stranger.request(method, route)
        assert hidden.value.status == 404
    with pytest.raises(ApiError) as unknown_event:
        owner.request("POST", "/api/webhooks", json={"url": f"http://{media_host.address}/x", "events": ["video.gone"]})
    assert unknown_event.value.status == 400 and "video.gone" in unknown_event.value.message

    owner.request("DELETE", f"/api/webhooks/{hook['id']}")
    assert owner.request("GET", "/api/webhooks")["webhooks"] == []


def test_a_repeated_create_answers_the_webhook_already_made(platform: RunningPlatform, media_host: MediaHost) -> None:
    owner, other = new_user(platform), new_user(platform)
    body = {"url": f"http://{media_host.address}/hooks/once", "events": ["video.ready"]}
    made = owner.request("POST", "/api/webhooks", json=body)
    # As a client retries after its reply was lost: the same request again, secret and all answered as before.
    assert owner.request("POST", "/api/webhooks", json=body) == made
    assert [h["id"] for h in owner.request("GET", "/api/webhooks")["webhooks"]] == [made["id"]]
    # Another user's, or another set of events, is a webhook of its own.
    assert other.request("POST", "/api/webhooks", json=body)["id"] != made["id"]
    assert owner.request("POST", "/api/webhooks", json={**body, "events": []})["id"] != made["id"]
