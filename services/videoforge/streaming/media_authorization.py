"""The edge's media check: Envoy's ext_authz filter asks, for every `/media/{key}` request, whether the
CloudFront-format grant in its query string covers exactly that URL.

The URL checked is the public one the grant was signed for, `{media_base_url}/{key}`, rebuilt from settings
rather than from the Host header, so a grant is honoured on the address it names and nowhere else. An allowed
request loses the grant's parameters before it goes on to the object store; a refused one is answered here.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, unquote

from google.rpc import code_pb2, status_pb2
from grpc.aio import ServicerContext

from videoforge.kit.cdn import GrantRefused, GrantVerifier
from videoforge.streaming.edgeauth import base_pb2, external_auth_pb2, external_auth_pb2_grpc, http_status_pb2

MEDIA_PATH_PREFIX = "/media/"
GRANT_PARAMETERS = ("Policy", "Signature", "Key-Pair-Id")
READ_METHODS = frozenset({"GET", "HEAD"})
AUTHORIZATION_SERVICE = external_auth_pb2.DESCRIPTOR.services_by_name["Authorization"].full_name


def media_url(path: str, media_base_url: str) -> str:
    """The public URL a request for `path` (`/media/{key}`, without its query) was signed for."""
    if not path.startswith(MEDIA_PATH_PREFIX):
        raise GrantRefused("not a media path")
    key = path.removeprefix(MEDIA_PATH_PREFIX)
    # The object store maps keys onto a file tree: no empty, `.` or `..` segment may reach it, however spelled.
    if any(segment in ("", ".", "..") for segment in unquote(key).split("/")):
        raise GrantRefused("not an object path")
    return f"{media_base_url.rstrip('/')}/{key}"


def grant_query(query: str) -> dict[str, str]:
    """The grant's parameters; anything else is refused, so nothing but the object path reaches the store."""
    # keep_blank_values: a bare `?acl` is a parameter too (a sub-resource to S3).
    pairs = parse_qsl(query, keep_blank_values=True)
    unexpected = sorted({name for name, _ in pairs} - set(GRANT_PARAMETERS))
    if unexpected:
        raise GrantRefused(f"unexpected query parameter {unexpected[0]!r}")
    return dict(pairs)


class MediaAuthorizationServicer(external_auth_pb2_grpc.AuthorizationServicer):
    """`envoy.service.auth.v3.Authorization` for the edge's `/media/` route."""

    def __init__(self, verifier: GrantVerifier, *, media_base_url: str) -> None:
        self._verifier = verifier
        self._media_base_url = media_base_url

    async def Check(
        self, request: external_auth_pb2.CheckRequest, context: ServicerContext
    ) -> external_auth_pb2.CheckResponse:
        http = request.attributes.request.http
        if http.method not in READ_METHODS:
            return refused(GrantRefused(f"it allows only {' and '.join(sorted(READ_METHODS))}"))
        path, _, query = http.path.partition("?")
        try:
            self._verifier.verify(grant_query(query), media_url(path, self._media_base_url))
        except GrantRefused as refusal:
            return refused(refusal)
        return allowed()


def allowed() -> external_auth_pb2.CheckResponse:
    return external_auth_pb2.CheckResponse(
        status=status_pb2.Status(code=code_pb2.OK),
        # The store must see a plain object read, not the grant: S3 reads query parameters as sub-resources.
        ok_response=external_auth_pb2.OkHttpResponse(query_parameters_to_remove=GRANT_PARAMETERS),
    )


def refused(refusal: GrantRefused) -> external_auth_pb2.CheckResponse:
    """403 with the JSON body every error from the edge has."""
    message = f"The media link is not valid ({refusal}); ask for a new playback URL."
    # A refusal is about this link at this moment: no cache may keep it.
    headers = {"content-type": "application/json", "cache-control": "no-store"}
    return external_auth_pb2.CheckResponse(
        status=status_pb2.Status(code=code_pb2.PERMISSION_DENIED, message=message),
        denied_response=external_auth_pb2.DeniedHttpResponse(
            status=http_status_pb2.HttpStatus(code=http_status_pb2.Forbidden),
            headers=[
                base_pb2.HeaderValueOption(header=base_pb2.HeaderValue(key=key, value=value))
                for key, value in headers.items()
            ],
            body=json.dumps({"code": code_pb2.PERMISSION_DENIED, "message": message}),
        ),
    )
