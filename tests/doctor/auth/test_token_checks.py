"""The per-request token check: concurrent requests share one, and a sign-in change outranks it."""

from __future__ import annotations

import asyncio
from typing import Any

from backend.doctor.auth.service import AuthService, Principal
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USERNAME, login
from tests.support.clients import MakeClient


def _counting_checks(auth: AuthService, gate: asyncio.Event | None = None) -> list[str]:
    """Count (and optionally hold) the store lookups behind the token check."""
    calls: list[str] = []
    lookup = auth.users.token_state

    async def token_state(username: str, token_id: str) -> Any:
        calls.append(username)
        if gate is not None:
            await gate.wait()
        return await lookup(username, token_id)

    auth.users.token_state = token_state  # type: ignore[method-assign]
    return calls


def test_concurrent_requests_with_one_token_share_one_check(make_client: MakeClient) -> None:
    client = make_client(signed_in=False)
    token = str(login(client, ADMIN_USERNAME, ADMIN_PASSWORD)["access_token"])
    auth: AuthService = client.app.state.auth  # type: ignore[attr-defined]
    calls = _counting_checks(auth)

    async def twenty() -> list[Principal]:
        return list(await asyncio.gather(*(auth.authenticate(token) for _ in range(20))))

    principals = client.portal.call(twenty)  # type: ignore[union-attr]
    assert calls == [ADMIN_USERNAME]
    assert {p.username for p in principals} == {ADMIN_USERNAME}


def test_a_check_begun_before_a_sign_in_change_is_neither_cached_nor_joined(make_client: MakeClient) -> None:
    client = make_client(signed_in=False)
    token = str(login(client, ADMIN_USERNAME, ADMIN_PASSWORD)["access_token"])
    auth: AuthService = client.app.state.auth  # type: ignore[attr-defined]

    async def scenario() -> tuple[int, int]:
        gate = asyncio.Event()
        calls = _counting_checks(auth, gate)
        before = asyncio.ensure_future(auth.authenticate(token))
        await asyncio.sleep(0.05)  # the check is waiting for the stores
        auth.forget(ADMIN_USERNAME)  # e.g. a logout in this worker
        after = asyncio.ensure_future(auth.authenticate(token))
        await asyncio.sleep(0.05)
        checks_while_held = len(calls)  # 2: the request after the change made its own check
        gate.set()
        await asyncio.gather(before, after)
        # The same again without the request after: the check begun before must not fill the cache.
        gate.clear()
        auth.forget(ADMIN_USERNAME)
        calls.clear()
        before = asyncio.ensure_future(auth.authenticate(token))
        await asyncio.sleep(0.05)
        auth.forget(ADMIN_USERNAME)
        gate.set()
        await before
        await auth.authenticate(token)
        return checks_while_held, len(calls)

    assert client.portal.call(scenario) == (2, 2)  # type: ignore[union-attr]
