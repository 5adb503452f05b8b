"""What the account use cases need from the outside world."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from videoforge.identity.domain.accounts import User


class UserRepository(ABC):
    @abstractmethod
    async def add(self, user: User) -> None:
        """Raises AlreadyExists when the email is taken."""

    @abstractmethod
    async def by_email(self, email: str) -> User | None: ...

    @abstractmethod
    async def by_id(self, user_id: str) -> User | None: ...

    @abstractmethod
    async def set_password(self, user_id: str, password_hash: str) -> None: ...

    @abstractmethod
    async def add_refresh_token(self, token_hash: str, user_id: str, expires: datetime) -> None: ...

    @abstractmethod
    async def take_refresh_token(self, token_hash: str) -> str | None:
        """Revokes a live refresh token and returns its user id; None when unknown, expired or revoked."""

    @abstractmethod
    async def revoke_user_tokens(self, user_id: str) -> None: ...


class PasswordHasher(ABC):
    """Slow by design: implementations keep the work off the event loop."""

    @abstractmethod
    async def hash(self, password: str) -> str: ...

    @abstractmethod
    async def verify(self, password_hash: str, password: str) -> bool: ...


class TokenIssuer(ABC):
    expires_in: int

    @abstractmethod
    def access_token(self, user: User) -> str: ...

    @abstractmethod
    def jwks(self) -> dict[str, object]: ...
