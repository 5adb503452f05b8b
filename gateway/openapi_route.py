"""`GET /api/openapi.json`: the edge answers the committed OpenAPI document itself (see `openapi`).

Read once when the configuration is rendered, like the web app's index: the edge describes the API it started
with. The document is public, so any origin may read it (tools such as Swagger UI fetch it cross-origin).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DOCUMENT_PATH = "/api/openapi.json"
DEFAULT_DOCUMENT = Path(__file__).resolve().parent / "openapi.json"
# Envoy keeps direct-response bodies in the route table and refuses ones over 4 KiB unless told more.
MAX_DOCUMENT_BYTES = 1024 * 1024
JSON_TRANSCODER = "envoy.filters.http.grpc_json_transcoder"


def openapi_route(document: Path = DEFAULT_DOCUMENT) -> dict[str, Any]:
    text = document.read_text()
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{document} is over {MAX_DOCUMENT_BYTES} bytes, more than the edge may answer itself")
    headers = {
        "content-type": "application/json",
        "cache-control": "no-cache",
        "access-control-allow-origin": "*",
        "x-content-type-options": "nosniff",
    }
    return {
        "name": "openapi",
        "match": {
            "path": DOCUMENT_PATH,
            "headers": [{"name": ":method", "string_match": {"safe_regex": {"regex": "GET|HEAD"}}}],
        },
        "direct_response": {"status": 200, "body": {"inline_string": text}},
        "response_headers_to_add": [
            {"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
            for key, value in headers.items()
        ],
        # The transcoder would answer this path 404 itself (reject_unknown_method) before the route acts.
        "typed_per_filter_config": {
            JSON_TRANSCODER: {"@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", "disabled": True}
        },
    }
