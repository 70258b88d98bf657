"""The doctor service's own dependencies: who is signed in, and the admin gate."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from backend.core.errors import AppError
from backend.doctor.auth.service import AuthService, Principal, unauthorized

# Declares the scheme in the OpenAPI document (the docs' Authorize button); we raise our own 401.
_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_auth(request: Request) -> AuthService:
    auth: AuthService = request.app.state.auth
    return auth


AuthDep = Annotated[AuthService, Depends(get_auth)]


async def current_user(auth: AuthDep, token: Annotated[str | None, Depends(_bearer)]) -> Principal:
    if not token:
        raise unauthorized("not_authenticated", "Sign in first: this needs a bearer token.")
    return await auth.authenticate(token)


CurrentUserDep = Annotated[Principal, Depends(current_user)]


async def admin_user(user: CurrentUserDep) -> Principal:
    if user.role != "admin":
        raise AppError(403, "Only an admin may do this.")
    return user


AdminDep = Annotated[Principal, Depends(admin_user)]
