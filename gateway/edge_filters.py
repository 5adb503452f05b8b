"""The edge's HTTP filters, in the order a request meets them: health, CORS, gRPC-Web, the reshaping Lua
filters, JSON transcoding, rate limits, the media check (ext_authz), tokens (jwt_authn), size limits, router.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from videoforge.gateway.download_redirect import download_redirect_filter
from videoforge.gateway.edge_clusters import JWKS_CLUSTER, edge_serves_media
from videoforge.gateway.error_bodies import error_body_filter
from videoforge.gateway.local_replies import HEALTH_PATH
from videoforge.gateway.metadata_headers import metadata_headers_filter
from videoforge.gateway.public_api import (
    ANONYMOUS_METHODS,
    MEDIA_PREFIX,
    PUBLIC_SERVICES,
    SIGN_IN_METHODS,
    SIGN_IN_SERVICE,
    public_methods,
)
from videoforge.gateway.web_static import web_app_filters
from videoforge.kit.settings import Settings
from videoforge.kit.tokens import jwks_document, load_private_key

_API = "type.googleapis.com/envoy.extensions"

MAX_REQUEST_BYTES = 1024 * 1024  # JSON and protobuf messages only: media goes to the object store directly.


# Matches gRPC's default message cap; the 1 MiB stream buffer would otherwise cut long listings.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024


# Anything but gRPC and gRPC-Web; a GET without a content type must count too, hence the missing-as-empty.
NOT_GRPC_CONTENT_TYPE = {
    "name": "content-type",
    "string_match": {"prefix": "application/grpc"},
    "invert_match": True,
    "treat_missing_header_as_empty": True,
}


MEDIA_CHECK_TIMEOUT = "2s"  # one RSA verification; longer means the streaming service is stuck


JWT_PROVIDER = "videoforge"


JWKS_FETCH_TIMEOUT = "5s"


# An external issuer rotates its keys rarely and publishes a new one ahead of use; the edge trusts it this soon.
JWKS_CACHE_DURATION = "600s"


# Client addresses whose buckets are kept; the least recently seen one is forgotten (its bucket refilled) past it.
RATE_LIMITED_CLIENTS = 10_000


# One client per IPv4 address, and per /64 for IPv6, the block one host or home network gets.
CLIENT_ADDRESS = {"masked_remote_address": {"v4_prefix_mask_len": 32, "v6_prefix_mask_len": 64}}


ROUTE_FILTER_CONFIG = "type.googleapis.com/envoy.config.route.v3.FilterConfig"


EXT_AUTHZ = "envoy.filters.http.ext_authz"


JSON_TRANSCODER = "envoy.filters.http.grpc_json_transcoder"


CORS = "envoy.filters.http.cors"


JWT_AUTHN = "envoy.filters.http.jwt_authn"


LOCAL_RATELIMIT = "envoy.filters.http.local_ratelimit"


def http_filters(settings: Settings, descriptor: Path, clusters: list[str]) -> list[dict[str, Any]]:
    return [
        health_check_filter(clusters),
        cors_filter(),
        grpc_web_filter(),
        metadata_headers_filter(),
        # Before the transcoder, so that on the way back they see the JSON the transcoder wrote.
        download_redirect_filter(),
        error_body_filter(),
        json_transcoder_filter(descriptor),
        # First after the transcoder (gRPC paths), and before any signature check: a flood costs a bucket lookup.
        *local_ratelimit_filters(settings),
        *media_authorization_filters(settings),
        *jwt_authn_filters(settings, descriptor),
        request_size_limit_filter(),
        *web_app_filters(),
        router_filter(),
    ]


def health_check_filter(clusters: list[str]) -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.health_check",
        "typed_config": {
            "@type": f"{_API}.filters.http.health_check.v3.HealthCheck",
            # Envoy answers /healthz itself, from its active health checks of every service.
            "pass_through_mode": False,
            "headers": [{"name": ":path", "string_match": {"exact": HEALTH_PATH}}],
            "cluster_min_healthy_percentages": {name: {"value": 100.0} for name in clusters},
        },
    }


def cors_filter() -> dict[str, Any]:
    # The policy itself is on the virtual host (cors_policy) and the media route; the filter only applies it.
    return {"name": CORS, "typed_config": {"@type": f"{_API}.filters.http.cors.v3.Cors"}}


def grpc_web_filter() -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.grpc_web",
        "typed_config": {"@type": f"{_API}.filters.http.grpc_web.v3.GrpcWeb"},
    }


def json_transcoder_filter(descriptor: Path) -> dict[str, Any]:
    return {
        "name": JSON_TRANSCODER,
        "typed_config": {
            "@type": f"{_API}.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
            "proto_descriptor": str(descriptor),
            "services": list(PUBLIC_SERVICES),
            # Only the google.api.http bindings are the JSON API; gRPC paths are for gRPC clients.
            "auto_mapping": False,
            # Service errors become `{"code", "message", "details"}` bodies with the matching HTTP status.
            "convert_grpc_status": True,
            # Browsers' URLSearchParams encode a space as `+`: `?search=two+words` means "two words".
            "query_param_unescape_plus": True,
            # Clients add cache busters and tracking parameters; they must not turn a call into a 400.
            "ignore_unknown_query_parameters": True,
            "request_validation_options": {
                # An unmapped path is answered 404 here instead of travelling on untranscoded.
                "reject_unknown_method": True,
                # A query value that cannot be parsed into its field is the client's error, not a pass-through.
                "reject_unknown_query_parameters": True,
            },
            "max_response_body_size": MAX_RESPONSE_BYTES,
            "print_options": {
                # Zeros, empty strings and false stay in the JSON: clients read `progress: 0`, not a gap.
                "always_print_primitive_fields": True,
                "always_print_enums_as_ints": False,
                # Server streams (WatchJob) arrive as one JSON object per line, each usable on arrival;
                # the default, one JSON array, cannot be parsed until its closing bracket.
                "stream_newline_delimited": True,
            },
        },
    }


def media_authorization_filters(settings: Settings) -> list[dict[str, Any]]:
    """The streaming service's check of CloudFront-format grants (`envoy.service.auth.v3.Authorization`)."""
    if not edge_serves_media(settings):
        return []
    return [
        {
            "name": EXT_AUTHZ,
            # Off unless a route turns it on: only the media routes carry grants to check.
            "disabled": True,
            "typed_config": {
                "@type": f"{_API}.filters.http.ext_authz.v3.ExtAuthz",
                "grpc_service": {"envoy_grpc": {"cluster_name": "streaming"}, "timeout": MEDIA_CHECK_TIMEOUT},
                "transport_api_version": "V3",
                # No answer is no grant: media is never served unchecked.
                "failure_mode_allow": False,
                # ...but a check that could not run is the edge's fault, not the link's.
                "status_on_error": {"code": 503},
            },
        }
    ]


def jwt_authn_filters(settings: Settings, descriptor: Path) -> list[dict[str, Any]]:
    """Bearer JWTs checked at the edge as the services check them: RS256, the trusted issuer and audience.

    The keys are the external issuer's JWKS URL (Cognito) when set, else the local issuer's public key. Without
    either there is nothing to check against, and the services' own check is the only one (as in their tests).
    """
    if settings.jwt_jwks_url:
        keys: dict[str, Any] = {"remote_jwks": remote_jwks(settings.jwt_jwks_url)}
    elif settings.jwt_private_key_file is not None:
        # Inlined: the bootstrap is its owner's alone, and a public key is no secret anyway.
        jwks = jwks_document(load_private_key(settings.jwt_private_key_file))
        keys = {"local_jwks": {"inline_string": json.dumps(jwks)}}
    else:
        return []
    provider = {
        "issuer": settings.jwt_issuer,
        "audiences": [settings.jwt_audience],
        **keys,
        # The Authorization header only: a token in a query string ends up in logs and Referer headers. The
        # scheme's case does not matter (the services take either spelling too).
        "from_headers": [{"name": "authorization", "value_prefix": prefix} for prefix in ("Bearer ", "bearer ")],
        # Kept for the services, which check the token again and read the caller from it.
        "forward": True,
        # The services refuse a token that never expires; so does the edge.
        "require_expiration": True,
    }
    return [
        {
            "name": JWT_AUTHN,
            "typed_config": {
                "@type": f"{_API}.filters.http.jwt_authn.v3.JwtAuthentication",
                "providers": {JWT_PROVIDER: provider},
                "rules": jwt_rules(descriptor),
                # Preflights carry no token; the CORS filter answers them first, and this keeps it so.
                "bypass_cors_preflight": True,
            },
        }
    ]


def remote_jwks(url: str) -> dict[str, Any]:
    return {
        "http_uri": {"uri": url, "cluster": JWKS_CLUSTER, "timeout": JWKS_FETCH_TIMEOUT},
        "cache_duration": JWKS_CACHE_DURATION,
        # Fetched in the background at start and on expiry, never while a request waits; fast_listener: the edge
        # takes requests before the first fetch is done (a failed fetch is retried every second).
        "async_fetch": {"fast_listener": True},
    }


def jwt_rules(descriptor: Path) -> list[dict[str, Any]]:
    """Which gRPC paths need a token; the first rule that matches applies.

    `ANONYMOUS_METHODS` may come without one, every other path of a public service must carry a valid one. A
    token that is present is checked everywhere (`allow_missing`, not `allow_missing_or_failed`): an invalid one
    is a 401 on public reads too. Other paths (media, the web app) reach no service and match no rule.
    """
    methods = public_methods(descriptor)
    unknown = sorted(ANONYMOUS_METHODS - set(methods))
    if unknown:
        raise ValueError(f"{descriptor} describes no {', '.join(unknown)}")
    anonymous = {"requires_any": {"requirements": [{"provider_name": JWT_PROVIDER}, {"allow_missing": {}}]}}
    return [
        *({"match": {"path": path}, "requires": anonymous} for path in methods if path in ANONYMOUS_METHODS),
        *(
            {"match": {"prefix": f"/{service}/"}, "requires": {"provider_name": JWT_PROVIDER}}
            for service in PUBLIC_SERVICES
        ),
    ]


def local_ratelimit_filters(settings: Settings) -> list[dict[str, Any]]:
    """Token buckets per client address, after the transcoder so they see gRPC paths.

    Every gRPC call (JSON ones are gRPC calls by now) takes a token from the client's API bucket, sign-in calls
    one more from the tighter sign-in bucket; media reads have their own. Nothing else (the web app) is limited.
    """
    sign_in = "|".join(SIGN_IN_METHODS)
    buckets = {
        # Every gRPC path of the platform, routed or refused: one prefix instead of a regex over the services.
        "api": (settings.edge_rate_limit_per_minute, {"prefix": "/videoforge."}),
        "sign-in": (
            settings.edge_login_rate_limit_per_minute,
            {"safe_regex": {"regex": rf"/{re.escape(SIGN_IN_SERVICE)}/({sign_in})(\?.*)?"}},
        ),
        "media": (settings.edge_media_rate_limit_per_minute, {"prefix": MEDIA_PREFIX}),
    }
    # The longest any bucket takes to give back one token; buckets refill continuously.
    retry_after = max(math.ceil(60 / per_minute) for per_minute, _ in buckets.values())
    return [
        {
            "name": LOCAL_RATELIMIT,
            "typed_config": {
                "@type": f"{_API}.filters.http.local_ratelimit.v3.LocalRateLimit",
                "stat_prefix": "edge",
                # On and enforced for every request; both default to none.
                "filter_enabled": _all_requests("videoforge.rate_limit.enabled"),
                "filter_enforced": _all_requests("videoforge.rate_limit.enforced"),
                "rate_limits": [
                    {"actions": [_path_is(bucket, path), CLIENT_ADDRESS]} for bucket, (_, path) in buckets.items()
                ],
                "descriptors": [
                    {
                        # An empty value matches any address, each with a bucket of its own.
                        "entries": [{"key": "bucket", "value": bucket}, {"key": "masked_remote_address", "value": ""}],
                        "token_bucket": {
                            "max_tokens": per_minute,
                            "tokens_per_fill": per_minute,
                            "fill_interval": "60s",
                        },
                    }
                    for bucket, (per_minute, _) in buckets.items()
                ],
                "max_dynamic_descriptors": RATE_LIMITED_CLIENTS,
                # gRPC callers get RESOURCE_EXHAUSTED, as JSON callers get code 8, not the retry-at-once UNAVAILABLE
                # (gRPC-Web ones still read UNAVAILABLE: the grpc_web filter derives it from the HTTP 429).
                "rate_limited_as_resource_exhausted": True,
                "response_headers_to_add": [
                    {
                        "header": {"key": "retry-after", "value": str(retry_after)},
                        "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                    }
                ],
            },
        }
    ]


def _path_is(bucket: str, path: dict[str, Any]) -> dict[str, Any]:
    """A rate limit action: `bucket=<bucket>` for requests whose path matches, else no descriptor at all."""
    match = {"name": ":path", "string_match": path}
    return {"header_value_match": {"descriptor_key": "bucket", "descriptor_value": bucket, "headers": [match]}}


def _all_requests(runtime_key: str) -> dict[str, Any]:
    # Envoy requires a runtime key for every fraction; nothing sets these keys.
    return {"runtime_key": runtime_key, "default_value": {"numerator": 100, "denominator": "HUNDRED"}}


def request_size_limit_filter() -> dict[str, Any]:
    # Last before the router: requests refused for auth or rate are never buffered.
    return {
        "name": "envoy.filters.http.buffer",
        "typed_config": {
            "@type": f"{_API}.filters.http.buffer.v3.Buffer",
            "max_request_bytes": MAX_REQUEST_BYTES,
        },
    }


def router_filter() -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.router",
        "typed_config": {
            "@type": f"{_API}.filters.http.router.v3.Router",
            # The edge does not tell clients about its upstreams (x-envoy-upstream-service-time).
            "suppress_envoy_headers": True,
        },
    }
