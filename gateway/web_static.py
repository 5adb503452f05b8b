"""The web app at `/`, served by the edge itself from the production build (`web/dist`).

Hashed files under `/assets/` come from Envoy's `file_server` filter with a year-long immutable cache;
every other page path (`/`, `/watch/abc`, ...) answers `index.html` with `no-cache`, so the app's own
router takes over and a new build is picked up on the next load. `/api/`, `/v1/`, `/media/`,
`/.well-known/` and `/healthz` never reach the app.

The edge serves the build it started with: the list of assets and the text of `index.html` are read when
the configuration is rendered, so a page and the assets it names always match until the next start.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_API = "type.googleapis.com/envoy.extensions"
FILE_SERVER = "envoy.filters.http.file_server"
HEADER_MUTATION = "envoy.filters.http.header_mutation"
JSON_TRANSCODER = "envoy.filters.http.grpc_json_transcoder"

# `web/dist` of the source tree: `videoforge.gateway` is the repository's gateway/ folder.
DEFAULT_WEB_ROOT = Path(__file__).resolve().parent.parent / "web" / "dist"
ASSETS = "assets"
INDEX = "index.html"
# Envoy keeps direct-response bodies in the route table and refuses ones over this size by default.
MAX_INDEX_BYTES = 4096

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Paths that belong to the API, media and the edge itself; a page path is anything else.
RESERVED_PREFIXES = ("/api/", "/v1/", "/media/", "/.well-known/", "/healthz", f"/{ASSETS}/")

CONTENT_TYPES = {
    "js": "text/javascript; charset=utf-8",
    "mjs": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "map": "application/json",
    "webmanifest": "application/manifest+json",
    "svg": "image/svg+xml",
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "ico": "image/x-icon",
    "woff2": "font/woff2",
    "wasm": "application/wasm",
    "txt": "text/plain; charset=utf-8",
}
# One pool of file-reading threads, shared by the filter and every route that names the same id.
FILE_MANAGER = {"id": "videoforge-web", "thread_pool": {"thread_count": 2}}


def default_web_root() -> Path | None:
    """The source tree's build, when it has been built (`./setup` runs `npm run build`); else no web app."""
    return DEFAULT_WEB_ROOT if (DEFAULT_WEB_ROOT / INDEX).is_file() else None


def web_app_filters() -> list[dict[str, Any]]:
    """The connection manager filters the web routes configure; they go right before the router.

    Both are off unless a route turns them on with its own configuration. `header_mutation` comes first so
    that its response mutations (cache headers) apply to the answers `file_server` writes itself, which never
    pass through the router where route-level `response_headers_to_add` would apply.
    """
    return [
        {
            "name": HEADER_MUTATION,
            "disabled": True,
            "typed_config": {"@type": f"{_API}.filters.http.header_mutation.v3.HeaderMutation"},
        },
        {
            "name": FILE_SERVER,
            "disabled": True,
            "typed_config": {
                "@type": f"{_API}.filters.http.file_server.v3.FileServerConfig",
                "manager_config": FILE_MANAGER,
            },
        },
    ]


def static_web_routes(web_root: Path) -> list[dict[str, Any]]:
    """Routes for the build in `web_root`: its files, a 404 for any other asset, and index.html for pages."""
    web_root = web_root.resolve()
    index = web_root / INDEX
    if not index.is_file():
        raise FileNotFoundError(f"{index} does not exist; build the web app with `npm run build` in web/")
    html = index.read_text()
    if len(html.encode()) > MAX_INDEX_BYTES:
        raise ValueError(f"{index} is over {MAX_INDEX_BYTES} bytes, more than an Envoy direct response may hold")
    asset_dir = web_root / ASSETS
    assets = sorted(path.name for path in asset_dir.iterdir() if path.is_file()) if asset_dir.is_dir() else []
    top_level = sorted(path.name for path in web_root.iterdir() if path.is_file() and path.name != INDEX)
    routes = []
    if assets:
        routes.append(_files_route("web-assets", f"/{ASSETS}/", asset_dir, assets, IMMUTABLE))
    if top_level:
        routes.append(_files_route("web-files", "/", web_root, top_level, REVALIDATE))
    routes += [_missing_assets_route(), _pages_route(html)]
    return routes


def _files_route(name: str, prefix: str, folder: Path, names: list[str], cache: str) -> dict[str, Any]:
    """Exactly the files in `names`, read from `folder` when asked (HEAD and ranges included)."""
    pattern = re.escape(prefix) + "(?:" + "|".join(re.escape(file_name) for file_name in names) + ")"
    return {
        "name": name,
        "match": {"safe_regex": {"regex": pattern}, "headers": [_read_method()]},
        # Reached only when the file_server filter is missing from the chain or lets the request through.
        "direct_response": {"status": 404},
        "typed_per_filter_config": {
            JSON_TRANSCODER: _disabled(),
            HEADER_MUTATION: _response_headers({"cache-control": cache, "x-content-type-options": "nosniff"}),
            FILE_SERVER: {
                "@type": f"{_API}.filters.http.file_server.v3.FileServerConfig",
                "manager_config": FILE_MANAGER,
                "path_mappings": [{"request_path_prefix": prefix.rstrip("/") or "/", "file_path_prefix": str(folder)}],
                "content_types": CONTENT_TYPES,
                "default_content_type": "application/octet-stream",
            },
        },
    }


def _missing_assets_route() -> dict[str, Any]:
    # Not index.html: a script tag given HTML fails obscurely, a 404 says what happened. No long cache on it.
    return {
        "name": "web-missing-asset",
        "match": {"prefix": f"/{ASSETS}/", "headers": [_read_method()]},
        "direct_response": {"status": 404},
        "typed_per_filter_config": {JSON_TRANSCODER: _disabled()},
    }


def _pages_route(html: str) -> dict[str, Any]:
    not_reserved = [
        {"name": ":path", "string_match": {"prefix": prefix}, "invert_match": True} for prefix in RESERVED_PREFIXES
    ]
    headers = {
        "content-type": "text/html; charset=utf-8",
        "cache-control": REVALIDATE,
        "x-content-type-options": "nosniff",
    }
    return {
        "name": "web-pages",
        "match": {"prefix": "/", "headers": [_read_method(), *not_reserved]},
        "direct_response": {"status": 200, "body": {"inline_string": html}},
        "response_headers_to_add": [
            {"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
            for key, value in headers.items()
        ],
        "typed_per_filter_config": {JSON_TRANSCODER: _disabled()},
    }


def _read_method() -> dict[str, Any]:
    return {"name": ":method", "string_match": {"safe_regex": {"regex": "GET|HEAD"}}}


def _disabled() -> dict[str, Any]:
    # The transcoder would answer these paths 404 itself (reject_unknown_method) before any route acts.
    return {"@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", "disabled": True}


def _response_headers(headers: dict[str, str]) -> dict[str, Any]:
    return {
        "@type": f"{_API}.filters.http.header_mutation.v3.HeaderMutationPerRoute",
        "mutations": {
            "response_mutations": [
                {"append": {"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}}
                for key, value in headers.items()
            ]
        },
    }
