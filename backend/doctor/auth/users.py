"""Doctor and admin accounts in PostgreSQL (the `accounts` table), with argon2 password hashes (pwdlib).

Redis keeps only what may be lost: the token denylist, `P{auth}:revoked:<jti>` = "1", EX the token's
remaining lifetime (logout, refresh rotation). A Redis FLUSHALL loses no account.

`valid_after` (unix seconds, to the millisecond) retires every token issued before it: set when a
password changes, so a stolen token dies with the old password. Hashing and verifying cost ~0.2 s of
CPU each, so they run in the bounded thread pool, never on the event loop.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from backend.core.config import MIN_PASSWORD_LENGTH, Settings
from backend.core.db.engine import Database, DatabaseUnavailable
from backend.core.db.schema import accounts
from backend.core.errors import DependencyUnavailable
from backend.core.redis import REDIS_UNAVAILABLE, RedisClient

Role = Literal["doctor", "admin"]
ROLES: tuple[Role, ...] = ("doctor", "admin")
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{2,31}$"
_USERNAME = re.compile(USERNAME_PATTERN)

T = TypeVar("T")


class AuthStoreUnavailable(DependencyUnavailable):
    """The database (accounts, audit) or Redis (denylist) did not answer: sign-in and changes answer 503."""


class UserExists(Exception):
    pass


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    created_at: float


@dataclass(frozen=True)
class TokenState:
    """What a request's token check needs from Redis, read in one round trip."""

    role: Role | None  # None: the account no longer exists
    valid_after: float
    revoked: bool


def normalise_username(username: str) -> str:
    return username.strip().lower()


def check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        raise ValueError("a username is 3-32 lowercase letters, digits, '.', '_' or '-'")
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    return password


def _role(value: str | None) -> Role | None:
    for role in ROLES:
        if value == role:
            return role
    return None


@contextmanager
def auth_store_errors() -> Iterator[None]:
    try:
        yield
    except (DatabaseUnavailable, *REDIS_UNAVAILABLE) as exc:
        raise AuthStoreUnavailable("account store unavailable") from exc


class UserStore:
    def __init__(self, database: Database, redis: RedisClient, settings: Settings) -> None:
        self._db = database
        self._redis = redis
        self._base = f"{settings.redis_key_prefix}{{auth}}:"
        hasher = Argon2Hasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib)
        self._hasher = PasswordHash((hasher,))
        self._dummy_hash: str | None = None

    def _revoked_key(self, token_id: str) -> str:
        return f"{self._base}revoked:{token_id}"

    async def _call(self, awaitable: Awaitable[T]) -> T:
        with auth_store_errors():
            return await awaitable

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def create(self, username: str, password: str, role: Role, *, exist_ok: bool = False) -> User:
        """A new account; with exist_ok an existing one is returned as it is (two instances bootstrapping
        the first admin at once both succeed: INSERT ... ON CONFLICT DO NOTHING decides the winner)."""
        check_username(username)
        check_password(password)
        if exist_ok:
            existing = await self.get(username)
            if existing is not None:
                return existing
        password_hash = await self._hash(password)
        now = time.time()
        statement = (
            pg_insert(accounts)
            .values(username=username, password_hash=password_hash, role=role, created_at=now, valid_after=0)
            .on_conflict_do_nothing(index_elements=["username"])
            .returning(accounts.c.username)
        )
        with auth_store_errors():
            async with self._db.transaction() as connection:
                created = (await connection.execute(statement)).first() is not None
        if not created:
            existing = await self.get(username) if exist_ok else None
            if existing is not None:
                return existing
            raise UserExists(username)
        return User(username, role, now)

    async def get(self, username: str) -> User | None:
        with auth_store_errors():
            async with self._db.transaction() as connection:
                row = (
                    await connection.execute(
                        select(accounts.c.role, accounts.c.created_at).where(accounts.c.username == username)
                    )
                ).first()
        known = _role(row.role) if row is not None else None
        if row is None or known is None:
            return None
        return User(username, known, float(row.created_at))

    async def list(self) -> list[User]:
        with auth_store_errors():
            async with self._db.transaction() as connection:
                rows = (
                    await connection.execute(
                        select(accounts.c.username, accounts.c.role, accounts.c.created_at).order_by(
                            accounts.c.username
                        )
                    )
                ).all()
        users = [(row.username, _role(row.role), float(row.created_at)) for row in rows]
        return [User(name, role, created) for name, role, created in users if role is not None]

    async def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password is right; None otherwise, in about the same time either way."""
        with auth_store_errors():
            async with self._db.transaction() as connection:
                row = (
                    await connection.execute(
                        select(accounts.c.password_hash, accounts.c.role, accounts.c.created_at).where(
                            accounts.c.username == username
                        )
                    )
                ).first()
        if row is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self._hash("not a password anyone has")
            await asyncio.to_thread(self._hasher.verify, password, self._dummy_hash)
            return None
        if not await asyncio.to_thread(self._hasher.verify, password, row.password_hash):
            return None
        role = _role(row.role)
        return User(username, role, float(row.created_at)) if role is not None else None

    async def update(
        self, username: str, *, password: str | None = None, role: Role | None = None
    ) -> User | None:
        values: dict[str, str | float] = {}
        if password is not None:
            check_password(password)
            values["password_hash"] = await self._hash(password)
            values["valid_after"] = round(time.time(), 3)
        if role is not None:
            values["role"] = role
        if values:
            with auth_store_errors():
                async with self._db.transaction() as connection:
                    await connection.execute(
                        update(accounts).where(accounts.c.username == username).values(**values)
                    )
        return await self.get(username)

    async def delete(self, username: str) -> bool:
        with auth_store_errors():
            async with self._db.transaction() as connection:
                result = await connection.execute(delete(accounts).where(accounts.c.username == username))
        return bool(result.rowcount)

    async def token_state(self, username: str, token_id: str) -> TokenState:
        with auth_store_errors():
            async with self._db.transaction() as connection:
                row = (
                    await connection.execute(
                        select(accounts.c.role, accounts.c.valid_after).where(accounts.c.username == username)
                    )
                ).first()
            revoked = await self._redis.exists(self._revoked_key(token_id))
        return TokenState(
            role=_role(row.role) if row is not None else None,
            valid_after=float(row.valid_after) if row is not None else 0.0,
            revoked=bool(revoked),
        )

    async def revoke(self, token_id: str, expires_at: int) -> None:
        remaining = max(1, expires_at - int(time.time()))
        await self._call(self._redis.set(self._revoked_key(token_id), 1, ex=remaining))

    async def revoke_once(self, token_id: str, expires_at: int) -> bool:
        """Revoke a token, True only for the first caller: a refresh token is spent exactly once."""
        remaining = max(1, expires_at - int(time.time()))
        return bool(await self._call(self._redis.set(self._revoked_key(token_id), 1, ex=remaining, nx=True)))
