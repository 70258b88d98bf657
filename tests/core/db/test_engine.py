"""The engine's connection settings: no TLS handshake to a loopback database unless the URL asks."""

from __future__ import annotations

import pytest

from backend.core.db.engine import _tls_off_for_loopback, async_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://postgres@127.0.0.1:5432/medqa", {"ssl": False}),
        ("postgresql://postgres@localhost/medqa", {"ssl": False}),
        ("postgresql:///medqa?host=/var/run/postgresql", {"ssl": False}),
        ("postgresql://medqa:secret@db.internal:5432/medqa", {}),  # another host: asyncpg's default
        ("postgresql://postgres@127.0.0.1/medqa?ssl=require", {}),  # asked for: left alone
    ],
)
def test_tls_is_skipped_only_on_loopback_unless_the_url_asks(url: str, expected: dict[str, bool]) -> None:
    assert _tls_off_for_loopback(async_url(url)) == expected
