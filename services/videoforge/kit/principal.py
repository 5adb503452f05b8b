"""Who is calling: set by the auth interceptor for the length of one RPC."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from videoforge.kit.errors import PermissionDenied, Unauthenticated


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: str = "user"
    email: str = ""
    # The bearer token as received, forwarded on calls made on this user's behalf.
    token: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_manage(self, owner_id: str) -> bool:
        """Owners manage what is theirs; admins manage everything."""
        return self.user_id == owner_id or self.is_admin


_current: ContextVar[Principal | None] = ContextVar("videoforge_principal", default=None)


def current_principal() -> Principal | None:
    return _current.get()


def set_principal(principal: Principal | None) -> object:
    return _current.set(principal)


def reset_principal(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def require_user() -> Principal:
    principal = _current.get()
    if principal is None:
        raise Unauthenticated("Sign in first: send 'Authorization: Bearer <access token>'.", "LOGIN_REQUIRED")
    return principal


def require_admin() -> Principal:
    principal = require_user()
    if not principal.is_admin:
        raise PermissionDenied("This needs an administrator account.", "ADMIN_REQUIRED")
    return principal
