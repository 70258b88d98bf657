"""Account administration: list, create, change (password, role) and delete doctors and admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field, field_validator

from backend.core.config import MIN_PASSWORD_LENGTH
from backend.core.errors import ERROR_RESPONSES, AppError
from backend.core.guard import rate_limited
from backend.core.schemas import StrictModel
from backend.doctor.auth.users import USERNAME_PATTERN, Role, User, UserExists
from backend.doctor.deps import AdminDep, AuthDep, admin_user

router = APIRouter(
    prefix="/api/v1/admin/users",
    tags=["user administration"],
    dependencies=[Depends(admin_user)],
    responses=ERROR_RESPONSES,
)
rate_limited(router, "default")

UsernamePath = Annotated[str, Path(pattern=USERNAME_PATTERN)]
Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=256)]


class UserOut(BaseModel):
    username: str
    role: Role
    created_at: float

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(username=user.username, role=user.role, created_at=user.created_at)


class UsersOut(BaseModel):
    users: list[UserOut]


class NewUser(StrictModel):
    username: str = Field(pattern=USERNAME_PATTERN)
    password: Password
    role: Role = "doctor"

    @field_validator("username", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


class UserChange(StrictModel):
    password: Password | None = None
    role: Role | None = None


def _not_found(username: str) -> AppError:
    return AppError(404, f"No such user: {username}")


@router.get("", summary="Every account")
async def list_users(auth: AuthDep) -> UsersOut:
    return UsersOut(users=[UserOut.of(user) for user in await auth.users.list()])


@router.post("", summary="Create an account", status_code=201)
async def create_user(body: NewUser, auth: AuthDep, admin: AdminDep) -> UserOut:
    try:
        user = await auth.users.create(body.username, body.password, body.role)
    except UserExists:
        raise AppError(409, f"The username is taken: {body.username}") from None
    await auth.record(admin, "user.create", [user.username])
    return UserOut.of(user)


@router.patch("/{username}", summary="Change a password (ends that user's sign-ins) or a role")
async def change_user(username: UsernamePath, body: UserChange, auth: AuthDep, admin: AdminDep) -> UserOut:
    if body.role == "doctor" and username == admin.username:
        raise AppError(409, "An admin cannot take away their own admin role.")
    user = await auth.users.update(username, password=body.password, role=body.role)
    if user is None:
        raise _not_found(username)
    auth.forget(username)
    await auth.record(admin, "user.update", [username])
    return UserOut.of(user)


@router.delete("/{username}", summary="Delete an account; its sign-ins end at once", status_code=204)
async def delete_user(username: UsernamePath, auth: AuthDep, admin: AdminDep) -> Response:
    if username == admin.username:
        raise AppError(409, "An admin cannot delete their own account.")
    if not await auth.users.delete(username):
        raise _not_found(username)
    auth.forget(username)
    await auth.record(admin, "user.delete", [username])
    return Response(status_code=204)
