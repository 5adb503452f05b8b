"""IdentityService over gRPC: proto in, use case, proto out."""

from __future__ import annotations

import json

from google.api import httpbody_pb2
from google.protobuf import empty_pb2
from grpc.aio import ServicerContext

from videoforge.identity.domain.accounts import User
from videoforge.identity.service_layer.accounts import Accounts, Session
from videoforge.identity.v1 import identity_pb2 as pb
from videoforge.identity.v1 import identity_pb2_grpc
from videoforge.kit.principal import require_user
from videoforge.kit.proto_time import timestamp

_ROLES = {"user": pb.ROLE_USER, "admin": pb.ROLE_ADMIN}


def user_proto(user: User) -> pb.User:
    return pb.User(
        name=f"users/{user.id}",
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=_ROLES[user.role],
        create_time=timestamp(user.create_time),
    )


def session_proto(session: Session) -> pb.AuthSession:
    return pb.AuthSession(
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        token_type="Bearer",
        expires_in=session.expires_in,
        user=user_proto(session.user),
    )


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts

    async def Register(self, request: pb.RegisterRequest, context: ServicerContext) -> pb.AuthSession:
        return session_proto(await self._accounts.register(request.email, request.password, request.display_name))

    async def Login(self, request: pb.LoginRequest, context: ServicerContext) -> pb.AuthSession:
        return session_proto(await self._accounts.login(request.email, request.password))

    async def RefreshSession(self, request: pb.RefreshSessionRequest, context: ServicerContext) -> pb.AuthSession:
        return session_proto(await self._accounts.refresh(request.refresh_token))

    async def Logout(self, request: pb.LogoutRequest, context: ServicerContext) -> empty_pb2.Empty:
        await self._accounts.logout(request.refresh_token)
        return empty_pb2.Empty()

    async def ChangePassword(self, request: pb.ChangePasswordRequest, context: ServicerContext) -> empty_pb2.Empty:
        principal = require_user()
        await self._accounts.change_password(principal.user_id, request.current_password, request.new_password)
        return empty_pb2.Empty()

    async def GetCurrentUser(self, request: pb.GetCurrentUserRequest, context: ServicerContext) -> pb.User:
        principal = require_user()
        user = await self._accounts.find(principal.user_id)
        if user is None:
            # Signed in at an external provider: the verified token is all we know of the person.
            role = pb.ROLE_ADMIN if principal.is_admin else pb.ROLE_USER
            return pb.User(name=f"users/{principal.user_id}", id=principal.user_id, email=principal.email, role=role)
        return user_proto(user)

    async def GetJwks(self, request: pb.GetJwksRequest, context: ServicerContext) -> httpbody_pb2.HttpBody:
        return httpbody_pb2.HttpBody(content_type="application/json", data=json.dumps(self._accounts.jwks()).encode())
