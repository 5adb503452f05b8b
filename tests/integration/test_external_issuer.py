"""Services trust an external issuer (an Amazon Cognito user pool) through its JWKS URL.

A local HTTP server stands in for the pool's `/.well-known/jwks.json`; tokens carry Cognito's claims.
"""

from __future__ import annotations

import time

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fixtures.mesh_pki import MeshPki
from videoforge.identity.v1 import identity_pb2, identity_pb2_grpc
from videoforge.kit.mesh_tls import EDGE, IDENTITY
from videoforge.kit.principal import require_user
from videoforge.kit.runtime import token_verifier
from videoforge.kit.server import ServiceBinding, create_server
from videoforge.kit.settings import Settings
from videoforge.kit.tokens import key_id

POOL = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example"
CLIENT_ID = "app-client-1"


class WhoAmI(identity_pb2_grpc.IdentityServiceServicer):
    """Answers with the caller the interceptor authenticated: the subject under test is the interceptor."""

    async def GetCurrentUser(self, request: object, context: object) -> identity_pb2.User:
        principal = require_user()
        role = identity_pb2.ROLE_ADMIN if principal.is_admin else identity_pb2.ROLE_USER
        return identity_pb2.User(id=principal.user_id, email=principal.email, role=role)


def cognito_token(key: rsa.RSAPrivateKey, **claims: object) -> str:
    body = {"iss": POOL, "aud": CLIENT_ID, "sub": "c0ffee", "email": "pool@example.com", "token_use": "id",
            "exp": int(time.time()) + 300, **claims}  # fmt: skip
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": key_id(key)})


async def test_cognito_tokens_are_trusted_and_groups_become_roles(
    jwks_url: str, pool_key: rsa.RSAPrivateKey, mesh_pki: MeshPki
) -> None:
    settings = Settings(jwt_jwks_url=jwks_url, jwt_issuer=POOL, jwt_audience=CLIENT_ID, jwt_role_claim="cognito:groups")
    servicer = WhoAmI()
    running = await create_server(
        "127.0.0.1:0",
        [ServiceBinding(lambda s: identity_pb2_grpc.add_IdentityServiceServicer_to_server(servicer, s), [])],
        verifier=token_verifier(settings),
        credentials=mesh_pki.credentials(IDENTITY),
    )
    try:
        async with mesh_pki.aio_channel(f"127.0.0.1:{running.port}", server=IDENTITY, caller=EDGE) as channel:
            stub = identity_pb2_grpc.IdentityServiceStub(channel)

            async def me(token: str) -> identity_pb2.User:
                return await stub.GetCurrentUser(
                    identity_pb2.GetCurrentUserRequest(), metadata=[("authorization", f"Bearer {token}")]
                )

            user = await me(cognito_token(pool_key))
            assert (user.id, user.email, user.role) == ("c0ffee", "pool@example.com", identity_pb2.ROLE_USER)
            admin = await me(cognito_token(pool_key, **{"cognito:groups": ["admin"]}))
            assert admin.role == identity_pb2.ROLE_ADMIN
            with pytest.raises(grpc.aio.AioRpcError) as wrong_client:
                await me(cognito_token(pool_key, aud="another-client"))
            assert wrong_client.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await running.stop(0)
