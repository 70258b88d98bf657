"""Sign in (OAuth2 password form), refresh, sign out, and who am I."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response
from pydantic import BaseModel, Field

from backend.core.errors import ERROR_RESPONSES
from backend.core.guard import rate_limited
from backend.core.schemas import StrictModel
from backend.doctor.auth.tokens import TokenPair
from backend.doctor.auth.users import Role
from backend.doctor.deps import AuthDep, CurrentUserDep

router = APIRouter(prefix="/api/v1/auth", tags=["sign-in"], responses=ERROR_RESPONSES)
rate_limited(router, "default")

MAX_TOKEN_CHARS = 2048


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int
    refresh_token: str

    @classmethod
    def of(cls, pair: TokenPair) -> TokenResponse:
        return cls(
            access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token
        )


class RefreshRequest(StrictModel):
    refresh_token: str = Field(min_length=1, max_length=MAX_TOKEN_CHARS)


class LogoutRequest(StrictModel):
    refresh_token: str | None = Field(None, max_length=MAX_TOKEN_CHARS)


class Me(BaseModel):
    username: str
    role: Role


@router.post("/token", summary="Sign in with username and password (OAuth2 password form)")
async def token(
    auth: AuthDep,
    request: Request,
    username: Annotated[str, Form(min_length=1, max_length=64)],
    password: Annotated[str, Form(min_length=1, max_length=256)],
    grant_type: Annotated[Literal["password"] | None, Form()] = None,
) -> TokenResponse:
    address = request.client.host if request.client else "unknown"
    return TokenResponse.of(await auth.login(username, password, address))


@router.post("/refresh", summary="A new token pair for a refresh token, which is spent")
async def refresh(body: RefreshRequest, auth: AuthDep) -> TokenResponse:
    return TokenResponse.of(await auth.refresh(body.refresh_token))


@router.post("/logout", summary="Revoke this access token (and the refresh token, if sent)", status_code=204)
async def logout(user: CurrentUserDep, auth: AuthDep, body: LogoutRequest | None = None) -> Response:
    await auth.logout(user, body.refresh_token if body else None)
    return Response(status_code=204)


@router.get("/me", summary="The signed-in user")
async def me(user: CurrentUserDep) -> Me:
    return Me(username=user.username, role=user.role)
