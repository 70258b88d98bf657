"""Protection against password guessing: failures counted per username and per address, then a lockout.

A username with LOGIN_MAX_FAILURES failures inside LOGIN_FAILURE_WINDOW_SECONDS (or an address with
LOGIN_MAX_FAILURES_PER_ADDRESS) is locked for LOGIN_LOCKOUT_SECONDS; while locked, even the right
password is refused, so a guesser learns nothing. The lock lifts by itself (Redis TTL). A success
clears the username's count. Usernames and addresses are hashed in the keys.
"""

from __future__ import annotations

import hashlib

from backend.core.config import Settings
from backend.core.redis import RedisClient
from backend.doctor.auth.users import auth_store_errors

# Count a failure; past the limit, set the lock and reset the count. Returns the lock's TTL or 0.
_FAIL_LUA = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if count >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], 1, 'EX', ARGV[3])
  redis.call('DEL', KEYS[1])
  return tonumber(ARGV[3])
end
return 0
"""


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class LoginGuard:
    def __init__(self, redis: RedisClient, settings: Settings) -> None:
        self._redis = redis
        self._base = f"{settings.redis_key_prefix}{{auth}}:login:"
        self._window = settings.login_failure_window_seconds
        self._lockout = settings.login_lockout_seconds
        self._limits = {
            "user": settings.login_max_failures,
            "addr": settings.login_max_failures_per_address,
        }
        self._fail = redis.register_script(_FAIL_LUA)

    def _keys(self, scope: str, value: str) -> tuple[str, str]:
        digest = _digest(value)
        return f"{self._base}fail:{scope}:{digest}", f"{self._base}lock:{scope}:{digest}"

    async def locked_for(self, username: str, address: str) -> int:
        """Seconds until the lock on this username or address lifts; 0 when neither is locked."""
        with auth_store_errors():
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.ttl(self._keys("user", username)[1])
                pipe.ttl(self._keys("addr", address)[1])
                ttls = await pipe.execute()
        return max(0, *(int(ttl) for ttl in ttls))

    async def failed(self, username: str, address: str) -> int:
        """Count a failed attempt; the lockout in seconds when it just engaged, else 0."""
        locked = 0
        with auth_store_errors():
            for scope, value in (("user", username), ("addr", address)):
                keys = self._keys(scope, value)
                ttl = await self._fail(
                    keys=list(keys), args=[self._window, self._limits[scope], self._lockout]
                )
                locked = max(locked, int(ttl))
        return locked

    async def succeeded(self, username: str) -> None:
        with auth_store_errors():
            await self._redis.delete(self._keys("user", username)[0])
