"""Patients' pre-consultation sessions, kept in Redis so any worker of any replica can serve the next turn.

One session is one Redis string, `{prefix}session:{session_id}`, holding an orjson document:

    {"schema": 2, "version": 7, "token_sha256": "<hex>", "created_at": 1.7e9, "updated_at": 1.7e9,
     "state": {...}}

Design:

* Capability, not identity. `create` hands out a random session id (128 bits) and a separate random
  token (256 bits); every other call needs both. Only the token's SHA-256 is stored, so a Redis dump
  or a replica leak does not let anyone act as the patient. The hashes are compared in constant time.
  An unknown id, a malformed id and a wrong token all raise the same `SessionNotFound`, so a caller
  cannot learn which session ids exist.
* Sliding expiry. Every write sets the TTL and every successful `load` refreshes it, so a session
  lives `ttl_seconds` past its last use and an abandoned one disappears on its own: no sweeper job,
  and no patient text outlives the conversation by more than the TTL.
* Optimistic concurrency. `update` WATCHes the key, reads it, applies the caller's change to a
  private copy and writes it back in MULTI/EXEC. If anyone wrote the key in between, EXEC does
  nothing and the read-change-write runs again on the fresh state; the change function may
  therefore run several times and must not have side effects (no I/O, no metrics, no messages
  sent): all it may do is edit the dict it is given and return a value. A session sees only one
  patient's turns, so conflicts are rare and cheap, and no lock can be left behind by a worker that
  dies mid-request.
* All or nothing. The new document is written by one SET inside MULTI/EXEC, so a reader sees either
  the old document or the new one, never a mix. When Redis stops answering the caller gets
  `StoreUnavailable` (the API answers 503). If the connection drops while EXEC is in flight the
  outcome is unknown to us (the write may or may not have been applied), so that too is
  `StoreUnavailable` rather than a retry that could apply the change twice.
* Bounded size. `state["history"]`, when it is a list, is trimmed to its last `max_history` items
  on every update, so a long conversation cannot grow one key without limit.
* Versioned format. `schema` is the layout of the document, `version` counts its writes (tests and
  diagnostics use it). A document written by a newer release (schema above `SCHEMA_VERSION`) is
  refused with `UnsupportedSchema` instead of being misread or overwritten by an older worker during
  a rolling deploy. When the layout changes, bump `SCHEMA_VERSION` and register in `_UPGRADERS` a
  function that turns a schema-N document into a schema-N+1 one: `_decode` applies them in order,
  so old sessions are read in the new layout and are rewritten in it on their next update.

Nothing here logs: the token, the state and the patient's words must not reach log files.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final, TypeVar

import orjson
from redis.exceptions import WatchError

from backend.core.errors import DependencyUnavailable
from backend.core.redis import REDIS_UNAVAILABLE, RedisClient
from backend.patient.services.dialogue_state import upgrade_from_v1

SCHEMA_VERSION: Final = 2

T = TypeVar("T")

# secrets.token_urlsafe(16): 16 bytes are 22 base64url characters without padding.
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{22}")

Document = dict[str, Any]


def _to_slot_filling(document: Document) -> Document:
    """Schema 2: the pre-consultation's state as slots (dialogue_state.py); schema 1 was a fixed form."""
    state = document.get("state")
    if isinstance(state, dict):
        document["state"] = upgrade_from_v1(state)
    return document  # a state that is not an object is refused by _decode after the upgrades


# _UPGRADERS[n] turns a schema-n document into a schema-(n+1) one.
_UPGRADERS: dict[int, Callable[[Document], Document]] = {1: _to_slot_filling}


class StoreUnavailable(DependencyUnavailable):
    """Redis did not answer (down, unreachable or too slow): callers answer 503."""


class SessionNotFound(LookupError):
    """No such session for this token: unknown, expired, malformed id or wrong token, on purpose alike."""


class ConcurrentUpdate(RuntimeError):
    """Every optimistic attempt lost the race to another writer; should be rare for one patient."""


class UnsupportedSchema(RuntimeError):
    """The stored document uses a layout this code cannot read (written by a newer release)."""


def _hash_token(token: str) -> str:
    # surrogatepass: a token decoded from hostile JSON may hold lone surrogates; it must fail the
    # comparison, not raise UnicodeEncodeError.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@contextmanager
def _redis_errors() -> Iterator[None]:
    """Turn "Redis is not answering" into StoreUnavailable around Redis calls only.

    Kept to the Redis calls so that an OSError raised by a caller's change function is not
    mistaken for an outage.
    """
    try:
        yield
    except REDIS_UNAVAILABLE as exc:
        raise StoreUnavailable("session store unavailable") from exc
    except RuntimeError as exc:
        if not _transport_closed(exc):
            raise
        raise StoreUnavailable("session store unavailable") from exc


def _transport_closed(exc: BaseException) -> bool:
    """A write on a socket asyncio already closed, which redis-py lets through as a bare RuntimeError.

    Seen during a Sentinel failover: the old primary drops its clients and a pooled connection is
    reused before redis-py notices ("unable to perform operation on <TCPTransport closed=True ...>;
    the handler is closed"). It is an outage like ConnectionError, not a bug, so it answers 503 too.
    """
    if isinstance(exc, DependencyUnavailable) or not isinstance(exc, RuntimeError):
        return False
    message = str(exc)
    return "handler is closed" in message or ("Transport" in message and "closed" in message)


def _decode(raw: bytes | str) -> Document:
    """Parse a stored document and bring it to SCHEMA_VERSION, or refuse it."""
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UnsupportedSchema("session document is not valid JSON") from exc
    if not isinstance(parsed, dict):
        raise UnsupportedSchema("session document is not a JSON object")
    document: Document = parsed
    schema = document.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool):
        raise UnsupportedSchema("session document has no schema number")
    if schema > SCHEMA_VERSION:
        raise UnsupportedSchema(
            f"session document has schema {schema}, this release reads up to {SCHEMA_VERSION}"
        )
    while schema < SCHEMA_VERSION:
        upgrade = _UPGRADERS.get(schema)
        if upgrade is None:
            raise UnsupportedSchema(f"no upgrade from session schema {schema}")
        document = upgrade(document)
        schema += 1
        document["schema"] = schema
    version = document.get("version")
    if (
        not isinstance(document.get("state"), dict)
        or not isinstance(document.get("token_sha256"), str)
        or not isinstance(version, int)
        or isinstance(version, bool)
    ):
        raise UnsupportedSchema("session document lacks its state, token hash or version")
    return document


class SessionStore:
    """Create, read, change and delete sessions; see the module docstring for the guarantees."""

    def __init__(
        self, redis: RedisClient, *, prefix: str, ttl_seconds: int, max_history: int, max_retries: int = 20
    ) -> None:
        if ttl_seconds < 1:
            raise ValueError("ttl_seconds must be at least 1")
        if max_history < 0:
            raise ValueError("max_history must not be negative")
        if max_retries < 1:
            raise ValueError("max_retries must be at least 1")
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._max_history = max_history
        self._max_retries = max_retries

    def _key(self, session_id: str) -> str:
        return f"{self._prefix}session:{session_id}"

    def _checked_key(self, session_id: str) -> str:
        # Refusing malformed ids before Redis keeps junk (and key-pattern characters) out of key names
        # and costs an attacker's probe no round trip.
        if not isinstance(session_id, str) or not _SESSION_ID.fullmatch(session_id):
            raise SessionNotFound("session not found")
        return self._key(session_id)

    @staticmethod
    def _authorised(raw: bytes | str | None, token: str) -> Document:
        """The decoded document when it exists and the token matches; SessionNotFound otherwise."""
        if raw is None:
            raise SessionNotFound("session not found")
        document = _decode(raw)
        expected = document["token_sha256"].encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(expected, _hash_token(token).encode("ascii")):
            raise SessionNotFound("session not found")
        return document

    async def create(self, state: dict[str, Any]) -> tuple[str, str]:
        """Store a new session; returns (session_id, token). The token is shown to the client only once."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        document: Document = {
            "schema": SCHEMA_VERSION,
            "version": 1,
            "token_sha256": _hash_token(token),
            "created_at": now,
            "updated_at": now,
            "state": state,
        }
        payload = orjson.dumps(document)
        # NX: a 128-bit collision will not happen, but if it ever did, overwriting would hand a
        # stranger's session to this caller; drawing a new id is free.
        for _ in range(3):
            session_id = secrets.token_urlsafe(16)
            with _redis_errors():
                stored = await self._redis.set(self._key(session_id), payload, ex=self._ttl, nx=True)
            if stored:
                return session_id, token
        raise RuntimeError("could not draw an unused session id")

    async def _read(self, session_id: str, token: str) -> tuple[str, Document]:
        key = self._checked_key(session_id)
        with _redis_errors():
            raw = await self._redis.get(key)
        return key, self._authorised(raw, token)

    async def load(self, session_id: str, token: str) -> dict[str, Any]:
        """The session's state; each successful load keeps the session alive for another TTL."""
        key, document = await self._read(session_id, token)
        # Refreshed only after the token check, so someone holding just the id cannot keep a session
        # alive. EXPIRE on a key deleted meanwhile is a no-op, so it cannot resurrect it.
        with _redis_errors():
            await self._redis.expire(key, self._ttl)
        state: dict[str, Any] = document["state"]
        return state

    async def version(self, session_id: str, token: str) -> int:
        """How many times the session has been written (1 after create); for tests and diagnostics."""
        _, document = await self._read(session_id, token)
        return int(document["version"])

    async def delete(self, session_id: str, token: str) -> None:
        """Remove the session for good (the patient ended it); SessionNotFound if it is already gone."""
        key, _ = await self._read(session_id, token)
        # The token hash never changes, so the check above still holds for whatever is stored now.
        with _redis_errors():
            removed = await self._redis.delete(key)
        if not removed:
            raise SessionNotFound("session not found")

    async def update(
        self, session_id: str, token: str, change: Callable[[dict[str, Any]], Awaitable[T]]
    ) -> tuple[dict[str, Any], T]:
        """Apply `change` to the state atomically; returns (new state, what `change` returned).

        `change` edits the dict it is given in place. It may run more than once (once per lost race),
        each time on the freshest state, so it must have no side effects; only the run whose write
        lands counts, and its return value is the one returned here. An exception raised by `change`
        aborts the update with nothing written.
        """
        key = self._checked_key(session_id)
        for _ in range(self._max_retries):
            outcome = await self._attempt(key, token, change)
            if outcome is not None:
                return outcome
        raise ConcurrentUpdate("session changed concurrently too many times")

    async def _attempt(
        self, key: str, token: str, change: Callable[[dict[str, Any]], Awaitable[T]]
    ) -> tuple[dict[str, Any], T] | None:
        """One WATCH/GET/change/MULTI-SET-EXEC round; None when another writer got there first."""
        async with self._redis.pipeline(transaction=True) as pipe:
            try:
                with _redis_errors():
                    await pipe.watch(key)
                    raw = await pipe.get(key)
            except WatchError:
                # The connection dropped after WATCH: nothing was written, so another round is safe;
                # its WATCH reconnects or reports the outage.
                return None
            # A deleted or expired session is not recreated by a late writer.
            document = self._authorised(raw, token)
            # Parsed from bytes on this round, so the state is already a private deep copy: nothing
            # else holds it, and a change that fails or loses the race leaves no trace.
            state: dict[str, Any] = document["state"]
            result = await change(state)
            history = state.get("history")
            if isinstance(history, list) and len(history) > self._max_history:
                # Slicing from len - max keeps max_history == 0 meaning "keep none" ([-0:] keeps all).
                state["history"] = history[len(history) - self._max_history :]
            document["version"] = int(document["version"]) + 1
            document["updated_at"] = time.time()
            payload = orjson.dumps(document)
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.set(key, payload, ex=self._ttl)
            try:
                with _redis_errors():
                    await pipe.execute()
            except WatchError as exc:
                if isinstance(exc.__context__, REDIS_UNAVAILABLE) or (
                    exc.__context__ is not None and _transport_closed(exc.__context__)
                ):
                    # redis-py reports a connection lost during EXEC as a WatchError; the write may
                    # have landed, so running the change again could apply it twice.
                    raise StoreUnavailable("session store unavailable; the update may not be saved") from exc
                return None
        return state, result
