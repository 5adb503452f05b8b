"""Users and refresh tokens in PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from videoforge.identity.adapters.tables import refresh_tokens, users
from videoforge.identity.domain.accounts import User
from videoforge.identity.domain.ports import UserRepository
from videoforge.kit.errors import AlreadyExists


class PostgresUserRepository(UserRepository):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, user: User) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(users).values(**user.__dict__))
        except IntegrityError as exc:
            raise AlreadyExists(f"An account for {user.email} already exists; sign in instead.", "EMAIL_TAKEN") from exc

    async def by_email(self, email: str) -> User | None:
        return await self._one(select(users).where(users.c.email == email))

    async def by_id(self, user_id: str) -> User | None:
        return await self._one(select(users).where(users.c.id == user_id))

    async def set_password(self, user_id: str, password_hash: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))

    async def add_refresh_token(self, token_hash: str, user_id: str, expires: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(refresh_tokens).values(
                    token_hash=token_hash, user_id=user_id, expire_time=expires, revoked=False
                )
            )

    async def take_refresh_token(self, token_hash: str) -> str | None:
        # One UPDATE ... RETURNING: two concurrent refreshes with one token cannot both succeed.
        async with self._engine.begin() as conn:
            row = await conn.execute(
                update(refresh_tokens)
                .where(
                    refresh_tokens.c.token_hash == token_hash,
                    refresh_tokens.c.revoked.is_(False),
                    refresh_tokens.c.expire_time > func.now(),
                )
                .values(revoked=True)
                .returning(refresh_tokens.c.user_id)
            )
            return row.scalar_one_or_none()

    async def revoke_user_tokens(self, user_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(update(refresh_tokens).where(refresh_tokens.c.user_id == user_id).values(revoked=True))

    async def _one(self, query: object) -> User | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()  # type: ignore[call-overload]
        return User(**row) if row else None
