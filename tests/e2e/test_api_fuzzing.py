"""Every route of the published OpenAPI document, fuzzed through the edge of a running platform.

Schemathesis reads the committed document (the edge serves exactly that one) and sends valid and invalid requests
to each operation, each one three times: without a token, as a registered user and as an administrator. No answer
may be a server error, every answer must match the document, and none may carry what belongs in the log (a stack,
SQL, a driver's name, a file path, an exception's class name). About half the calls that name a video or a job
name the user's real, transcoded one, so that the fuzzing reaches past the 404. The platform is this module's own,
so that the accounts, uploads and deletions it makes touch no other test.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.fixtures.platform import RunningPlatform, start_platform, stop_platform
from tests.media_factory import MediaFactory
from videoforge.client.edge import EdgeClient
from videoforge.gateway.openapi_route import DEFAULT_DOCUMENT, DOCUMENT_PATH
from videoforge.platform.ports import free_port

pytestmark = pytest.mark.e2e
PASSWORD = "fuzzing-horse-9"
# Per operation, besides schemathesis's boundary cases; with three callers each, the run takes about 40 s on a quiet
# two-core machine and under two minutes on a busy one.
MAX_EXAMPLES = 15
# What only a log may hold. The services' messages are written for people; none names these.
INTERNALS = re.compile(
    r"(?i:traceback|sqlalchemy|psycopg|asyncpg|botocore|boto3|site-packages)"
    r"|File \"[^\"]+\", line \d+|grpc\._|_pb2\b"
    # Statements as drivers print them; people's words ("select a file from ...") are lowercase.
    r"|\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s.+\sSET|DELETE\s+FROM)\b"
    r"|(?<![\w/.])(/usr|/opt|/home|/root|/tmp|/work|/var)/\S+"
    r"|\b[A-Z][A-Za-z]*(Error|Exception)\b"
)
# Sign-in and every other call come from 127.0.0.1 here, far faster than any person.
UNLIMITED = {
    "EDGE_RATE_LIMIT_PER_MINUTE": "1000000",
    "EDGE_LOGIN_RATE_LIMIT_PER_MINUTE": "1000000",
    "EDGE_MEDIA_RATE_LIMIT_PER_MINUTE": "1000000",
}


@pytest.fixture(scope="module")
def fuzzed_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    running = start_platform(tmp_path_factory.mktemp("vf-fuzz"), free_port(), environment=UNLIMITED)
    try:
        yield running
    finally:
        stop_platform(running.process)


@pytest.fixture(scope="module")
def user(fuzzed_platform: RunningPlatform) -> Iterator[EdgeClient]:
    with EdgeClient(fuzzed_platform.url) as client:
        client.register(f"fuzz-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
        yield client


@pytest.fixture(scope="module")
def callers(fuzzed_platform: RunningPlatform, user: EdgeClient) -> dict[str, dict[str, str]]:
    """The headers of each kind of caller."""
    with fuzzed_platform.admin_client(PASSWORD) as admin:
        tokens = {"user": user.token, "admin": admin.token}
    return {"anonymous": {}, **{caller: {"Authorization": f"Bearer {token}"} for caller, token in tokens.items()}}


@pytest.fixture(scope="module")
async def seeded(user: EdgeClient, media_factory: MediaFactory) -> dict[str, str]:
    """The user's transcoded video and its job: random ids only ever meet a 404."""
    video = user.upload(await media_factory.tiny(), title="fuzzed")
    job = user.wait_for_job(video["latestJob"]["jobId"], timeout=300)
    assert job["status"] == "COMPLETED", job
    return {"video": video["id"], "job": job["id"]}


def aim_at_seeded(case: schemathesis.Case, data: st.DataObject, seeded: dict[str, str]) -> None:
    """Names the seeded video or job instead of the random id in about half the calls that name one. Never for a
    DELETE: the video must stay for the calls that follow."""
    if case.method == "DELETE" or not case.path_parameters:
        return
    kind = "job" if "/jobs/{" in case.path else "video" if "/videos/{" in case.path or "/stream/{" in case.path else ""
    if kind and data.draw(st.booleans(), label=f"the seeded {kind}"):
        # The id comes first in every path that names a video or a job.
        case.path_parameters[next(iter(case.path_parameters))] = seeded[kind]


@schemathesis.check
def no_internals_in_the_answer(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    if case.operation.path == DOCUMENT_PATH:
        return  # the document itself, describing the API in prose
    leak = INTERNALS.search(response.text)
    assert leak is None, f"the answer shows {leak.group(0)!r}: {response.text[:500]}"


# The committed document: the last test checks that the edge serves exactly this one.
schema = schemathesis.openapi.from_path(
    DEFAULT_DOCUMENT,
    config=schemathesis.Config.from_dict(
        {
            "request-timeout": 30,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            # A method no binding has meets the edge's one 404 on every path: probing each path with it costs time only.
            "phases": {"coverage": {"unexpected-methods": []}},
        }
    ),
)


@schema.parametrize()
@schema.given(data=st.data())
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_no_route_answers_a_server_error_or_shows_internals(
    case: schemathesis.Case,
    data: st.DataObject,
    fuzzed_platform: RunningPlatform,
    callers: dict[str, dict[str, str]],
    seeded: dict[str, str],
) -> None:
    aim_at_seeded(case, data, seeded)
    for caller, headers in callers.items():
        response = case.call(base_url=fuzzed_platform.url, headers=headers)
        try:
            case.validate_response(
                response,
                checks=[not_a_server_error, response_schema_conformance, no_internals_in_the_answer],
                headers=headers,
            )
        except AssertionError as failure:
            failure.add_note(f"caller: {caller}")
            raise


def test_the_edge_serves_the_committed_openapi_document(fuzzed_platform: RunningPlatform) -> None:
    reply = httpx.get(f"{fuzzed_platform.url}{DOCUMENT_PATH}")

    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.text == DEFAULT_DOCUMENT.read_text()
    assert reply.json()["paths"]["/api/gallery/videos"]["get"]["operationId"] == "GalleryApiService_ListVideos"
