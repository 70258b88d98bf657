"""Signed, short-lived access tokens and longer refresh tokens (JWT, HS256), revocable by token id.

Verification pins the algorithm, the audience and the issuer, and demands exp, iat, sub and jti, so a
token with `alg: none`, another audience, a forged signature or no expiry is refused. Revocation (logout,
refresh rotation) is a Redis key per token id that lives as long as the token would have.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Literal

import jwt

from backend.core.config import Settings

ALGORITHM = "HS256"
ISSUER = "medqa"
TokenType = Literal["access", "refresh"]


class InvalidToken(Exception):
    """The token is not one we issued, is malformed, or is of the wrong type."""

    code = "invalid_token"


class ExpiredToken(InvalidToken):
    code = "token_expired"


@dataclass(frozen=True)
class Claims:
    username: str
    role: str
    token_id: str
    issued_at: float
    expires_at: int
    type: TokenType


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


class TokenSigner:
    def __init__(self, settings: Settings) -> None:
        self._key = settings.secret_key
        self._audience = settings.token_audience
        self._lifetimes: dict[TokenType, int] = {
            "access": settings.access_token_seconds,
            "refresh": settings.refresh_token_seconds,
        }

    def _encode(self, username: str, role: str, kind: TokenType, now: float) -> str:
        claims = {
            "sub": username,
            "role": role,
            "typ": kind,
            "jti": secrets.token_urlsafe(16),
            # Sub-second: a password change retires tokens issued earlier in the same second too.
            "iat": round(now, 3),
            "exp": int(now) + self._lifetimes[kind],
            "aud": self._audience,
            "iss": ISSUER,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def issue(self, username: str, role: str) -> TokenPair:
        now = time.time()
        return TokenPair(
            access_token=self._encode(username, role, "access", now),
            refresh_token=self._encode(username, role, "refresh", now),
            expires_in=self._lifetimes["access"],
        )

    def verify(self, token: str, expected: TokenType) -> Claims:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "jti", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise ExpiredToken("The sign-in has expired; sign in again.") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("The token is not valid.") from exc
        kind, username, role = claims.get("typ"), claims.get("sub"), claims.get("role")
        if kind != expected or not isinstance(username, str) or not isinstance(role, str):
            raise InvalidToken("The token is not valid.")
        return Claims(
            username=username,
            role=role,
            token_id=str(claims["jti"]),
            issued_at=float(claims["iat"]),
            expires_at=int(claims["exp"]),
            type=expected,
        )
