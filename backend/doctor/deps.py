"""The doctor service's own dependencies: who is signed in, and the admin gate."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from backend.core.errors import AppError
from backend.doctor.auth.service import AuthService, Principal, unauthorized


async def get_auth(request: Request) -> AuthService:
    auth: AuthService = request.app.state.auth
    return auth


AuthDep = Annotated[AuthService, Depends(get_auth)]


class _SignedIn(OAuth2PasswordBearer):
    """The bearer scheme (so the OpenAPI document and the docs' Authorize button show it) that also
    checks the token: one dependency per request rather than three, since every API call pays for
    each dependency FastAPI solves."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        token = await super().__call__(request)
        if not token:
            raise unauthorized("not_authenticated", "Sign in first: this needs a bearer token.")
        return await (await get_auth(request)).authenticate(token)


current_user = _SignedIn(tokenUrl="/api/v1/auth/token", auto_error=False)

CurrentUserDep = Annotated[Principal, Depends(current_user)]


async def admin_user(user: CurrentUserDep) -> Principal:
    if user.role != "admin":
        raise AppError(403, "Only an admin may do this.")
    return user


AdminDep = Annotated[Principal, Depends(admin_user)]
