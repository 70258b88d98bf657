"""Sign-in, token refresh and logout, and the per-request token check, over the stores in this package.

Created per worker in `auth_lifespan` (after the fork). The first admin comes from ADMIN_USERNAME and
ADMIN_PASSWORD; when the database is down at start, creating it is retried in the background.
Accounts and the audit trail live in PostgreSQL; the token denylist and sign-in lockouts in Redis.

Availability: when the stores cannot answer the per-request revocation check within AUTH_CHECK_TIMEOUT, a
token whose signature, audience and expiry verify is trusted with the role it carries (counted in
`medqa_auth_degraded_total`). Clinical answers keep flowing through a Redis outage; what is lost for
at most ACCESS_TOKEN_SECONDS is only the effect of a logout or password change made meanwhile.
Sign-in, refresh and logout need both and answer 503 without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import FastAPI

from backend.core.cache.lru import MISSING, TTLCache
from backend.core.config import DEV_SECRET_KEY, Settings
from backend.core.db.engine import Database
from backend.core.errors import AppError
from backend.core.logging import get_logger
from backend.core.redis import RedisClient
from backend.doctor.auth.audit import AuditLog
from backend.doctor.auth.login_guard import LoginGuard
from backend.doctor.auth.metrics import AUTH_DEGRADED, LOGINS
from backend.doctor.auth.tokens import Claims, InvalidToken, TokenPair, TokenSigner, TokenType
from backend.doctor.auth.users import AuthStoreUnavailable, Role, UserStore, normalise_username

log = get_logger("auth")

CHECKED_TOKENS_PER_WORKER = 10_000
BOOTSTRAP_RETRY_SECONDS = 5.0
BOOTSTRAP_TIMEOUT_SECONDS = 5.0
_BEARER = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Principal:
    """The signed-in doctor or admin a request acts for."""

    username: str
    role: Role
    claims: Claims


def unauthorized(code: str, message: str) -> AppError:
    return AppError(401, message, code=code, headers=_BEARER)


class AuthService:
    def __init__(self, database: Database, redis: RedisClient, settings: Settings, service: str) -> None:
        self.users = UserStore(database, redis, settings)
        self.guard = LoginGuard(redis, settings)
        self.audit = AuditLog(database, settings)
        self.signer = TokenSigner(settings)
        self._check_timeout = settings.auth_check_timeout
        self._cache_seconds = settings.auth_cache_seconds
        # username NUL token -> Principal: a token checked moments ago is not checked again.
        self._checked = TTLCache(CHECKED_TOKENS_PER_WORKER)
        self._flights: dict[str, asyncio.Future[Principal]] = {}  # token -> its check under way
        self._forgotten = 0  # forget() calls so far
        self._service = service

    async def login(self, username: str, password: str, address: str) -> TokenPair:
        username = normalise_username(username)
        locked = await self.guard.locked_for(username, address)
        if locked:
            LOGINS.labels(self._service, "locked").inc()
            raise _locked(locked)
        user = await self.users.authenticate(username, password)
        if user is None:
            LOGINS.labels(self._service, "failure").inc()
            locked = await self.guard.failed(username, address)
            if locked:
                log.warning("sign-in locked after repeated failures", extra={"client": address})
                raise _locked(locked)
            raise AppError(401, "Wrong username or password.", code="invalid_credentials", headers=_BEARER)
        await self.guard.succeeded(username)
        LOGINS.labels(self._service, "success").inc()
        log.info("signed in", extra={"user": user.username})
        return self.signer.issue(user.username, user.role)

    async def refresh(self, refresh_token: str) -> TokenPair:
        claims = self._verify(refresh_token, "refresh")
        state = await self.users.token_state(claims.username, claims.token_id)
        if state.role is None or state.revoked or claims.issued_at < state.valid_after:
            raise unauthorized("invalid_token", "The sign-in is no longer valid; sign in again.")
        # Spent exactly once: of two refreshes racing with one token, the second is refused.
        if not await self.users.revoke_once(claims.token_id, claims.expires_at):
            raise unauthorized("invalid_token", "The sign-in is no longer valid; sign in again.")
        return self.signer.issue(claims.username, state.role)

    async def logout(self, principal: Principal, refresh_token: str | None) -> None:
        await self.users.revoke(principal.claims.token_id, principal.claims.expires_at)
        self.forget(principal.username)
        if refresh_token:
            with contextlib.suppress(AppError):
                claims = self._verify(refresh_token, "refresh")
                if claims.username == principal.username:
                    await self.users.revoke(claims.token_id, claims.expires_at)

    def recall(self, access_token: str) -> Principal | None:
        """The principal of a token this worker checked within AUTH_CACHE_SECONDS and not since
        forgotten, while the token is unexpired; None when it must be checked again."""
        checked = self._checked.get(access_token)
        if checked is not MISSING and checked.claims.expires_at > time.time():
            principal: Principal = checked
            return principal
        return None

    async def authenticate(self, access_token: str) -> Principal:
        recalled = self.recall(access_token)
        if recalled is not None:
            return recalled
        # Single flight: the requests that carry a token while it is being checked share that check,
        # rather than each verifying it and asking the stores (a herd every AUTH_CACHE_SECONDS).
        flight = self._flights.get(access_token)
        if flight is None:
            flight = asyncio.ensure_future(self._check(access_token))
            self._flights[access_token] = flight
            flight.add_done_callback(lambda done: self._landed(access_token, done))
        # shield: one client giving up must not cancel the check the others wait for.
        return await asyncio.shield(flight)

    async def _check(self, access_token: str) -> Principal:
        forgotten = self._forgotten
        claims = self._verify(access_token, "access")
        try:
            state = await asyncio.wait_for(
                self.users.token_state(claims.username, claims.token_id), self._check_timeout
            )
        except (AuthStoreUnavailable, TimeoutError):
            AUTH_DEGRADED.labels(self._service).inc()
            role: Role = "admin" if claims.role == "admin" else "doctor"
            return Principal(claims.username, role, claims)
        if state.role is None or state.revoked or claims.issued_at < state.valid_after:
            raise unauthorized("invalid_token", "The sign-in is no longer valid; sign in again.")
        principal = Principal(claims.username, state.role, claims)
        if forgotten == self._forgotten:  # no sign-in changed while the stores were asked
            self._checked.set(access_token, principal, self._cache_seconds)
        return principal

    def _landed(self, access_token: str, flight: asyncio.Future[Principal]) -> None:
        if self._flights.get(access_token) is flight:
            del self._flights[access_token]
        if not flight.cancelled():
            flight.exception()  # retrieved: a failure every waiter left before is not logged

    def forget(self, username: str) -> None:
        """Drop this worker's checked tokens of a user whose sign-ins just changed."""
        # Checks already under way may have read the stores before the change: their results are
        # neither cached nor shared with requests that come after it.
        self._forgotten += 1
        self._flights.clear()
        self._checked.remove_where(lambda principal: principal.username == username)

    async def record(self, principal: Principal, action: str, records: list[str]) -> None:
        """Write to the audit log what `principal` did to which records (ids only)."""
        await self.audit.record(principal.username, principal.role, action, records)

    def _verify(self, token: str, kind: TokenType) -> Claims:
        try:
            return self.signer.verify(token, kind)
        except InvalidToken as exc:
            raise unauthorized(exc.code, str(exc)) from exc

    async def bootstrap_admin(self, username: str, password: str) -> bool:
        """Create the first admin from the environment unless it exists; False when the database is down."""
        try:
            create = self.users.create(normalise_username(username), password, "admin", exist_ok=True)
            await asyncio.wait_for(create, BOOTSTRAP_TIMEOUT_SECONDS)
        except (AuthStoreUnavailable, TimeoutError):
            return False
        return True

    async def keep_bootstrapping(self, username: str, password: str) -> None:
        while True:
            await asyncio.sleep(BOOTSTRAP_RETRY_SECONDS)
            if await self.bootstrap_admin(username, password):
                log.info("first admin ready")
                return


def _locked(seconds: int) -> AppError:
    return AppError(
        429,
        f"Too many failed sign-ins. Try again in {seconds} s.",
        code="login_locked",
        headers={"Retry-After": str(seconds)},
        extra={"retry_after": seconds},
    )


@contextlib.asynccontextmanager
async def auth_lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    auth = AuthService(app.state.db, app.state.redis, settings, app.state.service)
    app.state.auth = auth
    if settings.secret_key == DEV_SECRET_KEY:
        log.warning("SECRET_KEY is the development default; set a random one for any real use")
    bootstrap: asyncio.Task[None] | None = None
    admin = (settings.admin_username, settings.admin_password)
    # Done before serving when Redis answers, so the first sign-in finds the admin; else retried.
    if settings.admin_username and not await auth.bootstrap_admin(*admin):
        log.warning("database unavailable: the first admin will be created when it answers")
        bootstrap = asyncio.create_task(auth.keep_bootstrapping(*admin))
    try:
        yield
    finally:
        if bootstrap is not None:
            bootstrap.cancel()
