"""The doctor service's own dependencies: who is signed in, and the admin gate."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.security import OAuth2PasswordBearer

from backend.core.errors import AppError
from backend.core.guard import SignIn
from backend.doctor.auth.service import AuthService, Principal, unauthorized


async def get_auth(request: Request) -> AuthService:
    auth: AuthService = request.app.state.auth
    return auth


AuthDep = Annotated[AuthService, Depends(get_auth)]


def _bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def signed_in(app: FastAPI, authorization: str | None) -> Principal:
    """The doctor an Authorization header's bearer token signs in, or 401: the guard's sign-in check."""
    token = _bearer(authorization)
    if token is None:
        raise unauthorized("not_authenticated", "Sign in first: this needs a bearer token.")
    auth: AuthService = app.state.auth
    return await auth.authenticate(token)


def recalled(app: FastAPI, authorization: str | None) -> Principal | None:
    """The doctor this worker signed in with this header moments ago (signed_in's cached answer,
    without an await), or None: then the guard awaits signed_in."""
    token = _bearer(authorization)
    auth: AuthService = app.state.auth
    return auth.recall(token) if token is not None else None


class _SignedIn(OAuth2PasswordBearer):
    """The bearer scheme (so the OpenAPI document and the docs' Authorize button show it), giving the
    principal to the routes that need it: the one the guard signed in for this request, or, on a
    route the guard does not sign in for (logout, me), the result of the same check."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        principal: Principal | None = request.scope.get("state", {}).get("principal")
        if principal is not None:
            return principal
        return await signed_in(request.app, request.headers.get("Authorization"))


current_user = _SignedIn(tokenUrl="/api/v1/auth/token", auto_error=False)
# Every /api route but sign-in's is behind it (create_app's `sign_in`).
SIGN_IN = SignIn(signed_in, current_user, recalled)

CurrentUserDep = Annotated[Principal, Depends(current_user)]


async def admin_user(user: CurrentUserDep) -> Principal:
    if user.role != "admin":
        raise AppError(403, "Only an admin may do this.")
    return user


AdminDep = Annotated[Principal, Depends(admin_user)]
