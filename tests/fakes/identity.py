"""An in-memory user repository for unit tests of the account use cases."""

from __future__ import annotations

from datetime import UTC, datetime

from videoforge.identity.domain.accounts import User
from videoforge.identity.domain.ports import UserRepository
from videoforge.kit.errors import AlreadyExists


class InMemoryUserRepository(UserRepository):
    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.tokens: dict[str, tuple[str, datetime, bool]] = {}

    async def add(self, user: User) -> None:
        if any(u.email == user.email for u in self.users.values()):
            raise AlreadyExists(f"An account for {user.email} already exists.", "EMAIL_TAKEN")
        self.users[user.id] = user

    async def by_email(self, email: str) -> User | None:
        return next((u for u in self.users.values() if u.email == email), None)

    async def by_id(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    async def set_password(self, user_id: str, password_hash: str) -> None:
        user = self.users[user_id]
        self.users[user_id] = User(**{**user.__dict__, "password_hash": password_hash})

    async def add_refresh_token(self, token_hash: str, user_id: str, expires: datetime) -> None:
        self.tokens[token_hash] = (user_id, expires, False)

    async def take_refresh_token(self, token_hash: str) -> str | None:
        found = self.tokens.get(token_hash)
        if found is None or found[2] or found[1] <= datetime.now(UTC):
            return None
        self.tokens[token_hash] = (found[0], found[1], True)
        return found[0]

    async def revoke_user_tokens(self, user_id: str) -> None:
        for key, (owner, expires, _) in list(self.tokens.items()):
            if owner == user_id:
                self.tokens[key] = (owner, expires, True)
