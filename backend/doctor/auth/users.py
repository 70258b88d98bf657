"""Doctor and admin accounts in Redis, with argon2 password hashes (pwdlib).

Key layout (`P` is REDIS_KEY_PREFIX):
  P{auth}:user:<username>    HASH password_hash, role, created_at, valid_after
  P{auth}:users              SET of usernames, for listing
  P{auth}:revoked:<jti>      "1", EX the token's remaining lifetime (logout, refresh rotation)

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

from backend.core.config import MIN_PASSWORD_LENGTH, Settings
from backend.core.errors import DependencyUnavailable
from backend.core.redis import REDIS_UNAVAILABLE, RedisClient

Role = Literal["doctor", "admin"]
ROLES: tuple[Role, ...] = ("doctor", "admin")
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{2,31}$"
_USERNAME = re.compile(USERNAME_PATTERN)

T = TypeVar("T")


class AuthStoreUnavailable(DependencyUnavailable):
    """Redis did not answer: sign-in and account changes answer 503."""


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
    except REDIS_UNAVAILABLE as exc:
        raise AuthStoreUnavailable("account store unavailable") from exc


class UserStore:
    def __init__(self, redis: RedisClient, settings: Settings) -> None:
        self._redis = redis
        self._base = f"{settings.redis_key_prefix}{{auth}}:"
        hasher = Argon2Hasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib)
        self._hasher = PasswordHash((hasher,))
        self._dummy_hash: str | None = None

    def _user_key(self, username: str) -> str:
        return f"{self._base}user:{username}"

    def _revoked_key(self, token_id: str) -> str:
        return f"{self._base}revoked:{token_id}"

    @property
    def _index(self) -> str:
        return f"{self._base}users"

    async def _call(self, awaitable: Awaitable[T]) -> T:
        with auth_store_errors():
            return await awaitable

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def create(self, username: str, password: str, role: Role, *, exist_ok: bool = False) -> User:
        check_username(username)
        check_password(password)
        key = self._user_key(username)
        exists: int = await self._call(self._redis.exists(key))
        if exist_ok and exists:
            existing = await self.get(username)
            if existing is not None:
                return existing
        password_hash = await self._hash(password)
        now = time.time()
        # HSETNX on the hash claims the name atomically: of two admins creating one user, one wins.
        if not await self._call(self._redis.hsetnx(key, "password_hash", password_hash)):
            if exist_ok:
                existing = await self.get(username)
                if existing is not None:
                    return existing
            raise UserExists(username)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"role": role, "created_at": now, "valid_after": 0})
            pipe.sadd(self._index, username)
            await self._call(pipe.execute())
        return User(username, role, now)

    async def get(self, username: str) -> User | None:
        role, created_at = await self._call(self._redis.hmget(self._user_key(username), "role", "created_at"))
        known = _role(role.decode() if isinstance(role, bytes) else role)
        if known is None:
            return None
        return User(username, known, float(created_at or 0))

    async def list(self) -> list[User]:
        names = sorted(
            name.decode() if isinstance(name, bytes) else name
            for name in await self._call(self._redis.smembers(self._index))
        )
        users = [await self.get(name) for name in names]
        return [user for user in users if user is not None]

    async def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password is right; None otherwise, in about the same time either way."""
        stored = await self._call(self._redis.hget(self._user_key(username), "password_hash"))
        if stored is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self._hash("not a password anyone has")
            await asyncio.to_thread(self._hasher.verify, password, self._dummy_hash)
            return None
        password_hash = stored.decode() if isinstance(stored, bytes) else stored
        if not await asyncio.to_thread(self._hasher.verify, password, password_hash):
            return None
        return await self.get(username)

    async def update(
        self, username: str, *, password: str | None = None, role: Role | None = None
    ) -> User | None:
        key = self._user_key(username)
        if await self.get(username) is None:
            return None
        fields: dict[str | bytes | bytearray | memoryview[int] | int | float, str | float] = {}
        if password is not None:
            check_password(password)
            fields["password_hash"] = await self._hash(password)
            fields["valid_after"] = round(time.time(), 3)
        if role is not None:
            fields["role"] = role
        if fields:
            await self._call(self._redis.hset(key, mapping=fields))
        return await self.get(username)

    async def delete(self, username: str) -> bool:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._user_key(username))
            pipe.srem(self._index, username)
            deleted, _ = await self._call(pipe.execute())
        return bool(deleted)

    async def token_state(self, username: str, token_id: str) -> TokenState:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self._user_key(username), "role", "valid_after")
            pipe.exists(self._revoked_key(token_id))
            (role, valid_after), revoked = await self._call(pipe.execute())
        return TokenState(
            role=_role(role.decode() if isinstance(role, bytes) else role),
            valid_after=float(valid_after or 0),
            revoked=bool(revoked),
        )

    async def revoke(self, token_id: str, expires_at: int) -> None:
        remaining = max(1, expires_at - int(time.time()))
        await self._call(self._redis.set(self._revoked_key(token_id), 1, ex=remaining))

    async def revoke_once(self, token_id: str, expires_at: int) -> bool:
        """Revoke a token, True only for the first caller: a refresh token is spent exactly once."""
        remaining = max(1, expires_at - int(time.time()))
        return bool(await self._call(self._redis.set(self._revoked_key(token_id), 1, ex=remaining, nx=True)))
