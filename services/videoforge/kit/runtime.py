"""What every service process does at start: logging, settings, token verifier, migrations, serve."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from videoforge.kit.cdn import MediaSigner
from videoforge.kit.db import create_engine_for, migrate
from videoforge.kit.mesh_tls import MeshCredentials, MeshTlsNotConfigured
from videoforge.kit.observability import start_observability
from videoforge.kit.server import ServiceBinding, create_server, serve_until_signalled
from videoforge.kit.settings import Settings
from videoforge.kit.tokens import TokenVerifier, jwks_document, load_private_key
from videoforge.kit.tracing import TraceIdLogFilter


class JsonLogFormatter(logging.Formatter):
    _FIELDS = ("request_id", "code", "method", "trace_id", "span_id")

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: getattr(record, k) for k in self._FIELDS if hasattr(record, k)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(TraceIdLogFilter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # Per-request chatter of libraries would drown the access log.
    for noisy in ("httpx", "httpcore", "botocore", "boto3", "s3transfer", "pgserver", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def token_verifier(settings: Settings) -> TokenVerifier | None:
    """Trusts the configured JWKS URL (e.g. Cognito) or else the local issuer's key."""
    common = {"issuer": settings.jwt_issuer, "audience": settings.jwt_audience, "role_claim": settings.jwt_role_claim}
    if settings.jwt_jwks_url:
        return TokenVerifier.from_jwks_url(settings.jwt_jwks_url, **common)
    if settings.jwt_private_key_file is None:
        return None
    return TokenVerifier.from_jwks(jwks_document(load_private_key(settings.jwt_private_key_file)), **common)


@dataclass
class Service:
    """What a service's bootstrap returns: its bindings, what ends its long polls as it starts to stop, and what
    to close once it stopped."""

    bindings: list[ServiceBinding]
    closers: list[Callable[[], Awaitable[object]]] = field(default_factory=list)
    # Calls that wait on purpose would otherwise hold the stop for as long as they wait.
    draining: list[Callable[[], None]] = field(default_factory=list)

    def drain(self) -> None:
        for end in self.draining:
            end()

    async def close(self) -> None:
        for close in reversed(self.closers):
            await close()


def database(settings: Settings, schema: str, migrations: Path):  # type: ignore[no-untyped-def]
    """Migrates the service's schema, then returns its engine."""
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set; start the platform with `videoforge up`.")
    migrate(settings.database_url, schema, migrations)
    return create_engine_for(settings.database_url)


async def run_service(settings: Settings, address: str, build: Callable[[Settings], Awaitable[Service]]) -> None:
    configure_logging(settings.log_level)
    # The bootstrap's package names the process: videoforge.gallery.bootstrap -> gallery.
    flush_traces = start_observability(settings, build.__module__.split(".")[1])
    credentials = mesh_credentials(settings)
    service = await build(settings)
    running = await create_server(
        address,
        service.bindings,
        verifier=token_verifier(settings),
        credentials=credentials,
        health_port=settings.health_port,
    )
    await serve_until_signalled(running, on_draining=service.drain, on_stop=service.close)
    flush_traces()


def mesh_credentials(settings: Settings) -> MeshCredentials:
    """This process's certificate in the mesh; a process without one does not start."""
    try:
        return MeshCredentials.from_settings(settings)
    except MeshTlsNotConfigured as error:
        raise SystemExit(str(error)) from None


def media_signer(settings: Settings) -> MediaSigner | None:
    if settings.cdn_private_key_file is None:
        return None
    return MediaSigner.from_file(
        settings.cdn_private_key_file, key_pair_id=settings.cdn_key_pair_id, base_url=settings.media_base_url
    )
