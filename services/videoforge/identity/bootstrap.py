"""Composition root of the identity service."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from videoforge.identity.adapters.jwt_issuer import RsaTokenIssuer
from videoforge.identity.adapters.passwords import Argon2PasswordHasher
from videoforge.identity.adapters.repository import PostgresUserRepository
from videoforge.identity.entrypoints.grpc_servicer import IdentityServicer
from videoforge.identity.service_layer.accounts import Accounts
from videoforge.identity.v1 import identity_pb2, identity_pb2_grpc
from videoforge.kit.runtime import Service, database
from videoforge.kit.server import ServiceBinding
from videoforge.kit.settings import Settings
from videoforge.kit.tokens import load_private_key

MIGRATIONS = Path(__file__).parent / "migrations"


def build_accounts(settings: Settings) -> tuple[Accounts, AsyncEngine]:
    engine = database(settings, "identity", MIGRATIONS)
    accounts = Accounts(
        PostgresUserRepository(engine),
        Argon2PasswordHasher(concurrency=settings.password_hash_concurrency or None),
        local_issuer(settings),
        refresh_token_days=settings.refresh_token_days,
    )
    return accounts, engine


def local_issuer(settings: Settings) -> RsaTokenIssuer | None:
    """None when an external provider (Cognito) issues the tokens: this service must not sign in its name."""
    if settings.jwt_jwks_url:
        return None
    if settings.jwt_private_key_file is None:
        raise SystemExit("JWT_PRIVATE_KEY_FILE is not set; start the platform with `videoforge up`.")
    return RsaTokenIssuer(
        load_private_key(settings.jwt_private_key_file),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        expires_in=settings.access_token_seconds,
    )


async def build(settings: Settings) -> Service:
    accounts, engine = build_accounts(settings)
    servicer = IdentityServicer(accounts)
    binding = ServiceBinding(
        lambda server: identity_pb2_grpc.add_IdentityServiceServicer_to_server(servicer, server),
        [identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name],
    )
    return Service([binding], [engine.dispose])
