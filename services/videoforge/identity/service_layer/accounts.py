"""Account use cases: register, sign in, refresh, sign out, change password, operator-created users."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from videoforge.identity.domain.accounts import (
    User,
    check_password_strength,
    check_role,
    display_name_for,
    normalise_email,
)
from videoforge.identity.domain.ports import PasswordHasher, TokenIssuer, UserRepository
from videoforge.kit.errors import FailedPrecondition, NotFound, Unauthenticated, require
from videoforge.kit.ids import new_id

BAD_CREDENTIALS = "The email or password is wrong."


@dataclass(frozen=True)
class Session:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_user(
    users: UserRepository, hasher: PasswordHasher, email: str, password: str, *, display_name: str = "", role: str
) -> User:
    """A new account; the one path for sign-ups and operator-created accounts alike."""
    email = normalise_email(email)
    check_password_strength(password)
    user = User(
        id=new_id(),
        email=email,
        display_name=display_name_for(display_name, email),
        role=check_role(role),
        password_hash=await hasher.hash(password),
        create_time=datetime.now(UTC),
    )
    await users.add(user)
    return user


class Accounts:
    def __init__(
        self,
        users: UserRepository,
        hasher: PasswordHasher,
        issuer: TokenIssuer | None,
        *,
        refresh_token_days: int,
    ) -> None:
        self._users, self._hasher, self._issuer = users, hasher, issuer
        self._refresh_lifetime = timedelta(days=refresh_token_days)
        self._decoy: str | None = None

    async def create_user(self, email: str, password: str, *, display_name: str = "", role: str = "user") -> User:
        return await create_user(self._users, self._hasher, email, password, display_name=display_name, role=role)

    async def register(self, email: str, password: str, display_name: str = "") -> Session:
        self._local_accounts_only()
        return await self._session_for(await self.create_user(email, password, display_name=display_name))

    async def login(self, email: str, password: str) -> Session:
        self._local_accounts_only()
        require(email, "email")
        if not password:
            require("", "password")
        user = await self._users.by_email(email.strip().lower())
        # The same answer, in the same time, for an unknown email and a wrong password: an unknown email
        # still costs one hash check, so neither the message nor the timing tells which part was wrong.
        stored = user.password_hash if user else await self._decoy_hash()
        if not await self._hasher.verify(stored, password) or user is None:
            raise Unauthenticated(BAD_CREDENTIALS, "BAD_CREDENTIALS")
        return await self._session_for(user)

    async def refresh(self, refresh_token: str) -> Session:
        self._local_accounts_only()
        require(refresh_token, "refresh_token")
        user_id = await self._users.take_refresh_token(_token_hash(refresh_token))
        user = await self._users.by_id(user_id) if user_id else None
        if user is None:
            raise Unauthenticated("The refresh token is unknown, expired or revoked; sign in again.", "BAD_REFRESH")
        return await self._session_for(user)

    async def logout(self, refresh_token: str) -> None:
        require(refresh_token, "refresh_token")
        await self._users.take_refresh_token(_token_hash(refresh_token))

    async def change_password(self, user_id: str, current_password: str, new_password: str) -> None:
        user = await self.get(user_id)
        if not await self._hasher.verify(user.password_hash, current_password):
            raise Unauthenticated("The current password is wrong.", "BAD_CREDENTIALS")
        check_password_strength(new_password, "new_password")
        await self._users.set_password(user_id, await self._hasher.hash(new_password))
        await self._users.revoke_user_tokens(user_id)

    async def find(self, user_id: str) -> User | None:
        return await self._users.by_id(user_id)

    async def get(self, user_id: str) -> User:
        user = await self._users.by_id(user_id)
        if user is None:
            raise NotFound("The account no longer exists.", "USER_NOT_FOUND")
        return user

    async def _decoy_hash(self) -> str:
        if self._decoy is None:
            self._decoy = await self._hasher.hash(secrets.token_urlsafe(16))
        return self._decoy

    def jwks(self) -> dict[str, object]:
        return self._issuer.jwks() if self._issuer else {"keys": []}

    def _local_accounts_only(self) -> TokenIssuer:
        if self._issuer is None:
            raise FailedPrecondition(
                "Accounts are managed by the configured identity provider; sign in there and send its token.",
                "EXTERNAL_IDENTITY_PROVIDER",
            )
        return self._issuer

    async def _session_for(self, user: User) -> Session:
        refresh_token = secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + self._refresh_lifetime
        await self._users.add_refresh_token(_token_hash(refresh_token), user.id, expires)
        issuer = self._local_accounts_only()
        return Session(issuer.access_token(user), refresh_token, issuer.expires_in, user)
