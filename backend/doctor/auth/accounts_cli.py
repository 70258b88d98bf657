"""`python -m backend.cli users ...`: manage doctor and admin accounts from the operator's shell.

    users list
    users add NAME [--role doctor|admin]      password from stdin (or a prompt on a terminal)
    users set-password NAME                   ends that user's current sign-ins
    users set-role NAME doctor|admin
    users delete NAME

It talks to the same database as the service (DATABASE_URL; the token denylist: REDIS_URL).
Passwords are never taken as arguments, which would leave them in the shell history and the process list.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from backend.core.config import Settings
from backend.core.db.engine import Database, create_engine
from backend.core.redis import create_redis
from backend.doctor.auth.users import (
    ROLES,
    AuthStoreUnavailable,
    UserExists,
    UserStore,
    check_password,
    check_username,
    normalise_username,
)


def add_parser(commands: Any) -> None:
    users = commands.add_parser("users", help="doctor and admin accounts: list, add, change, delete")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="every account with its role")
    adding = actions.add_parser("add", help="create an account; the password is read from stdin")
    adding.add_argument("name", metavar="NAME")
    adding.add_argument("--role", choices=ROLES, default="doctor")
    password = actions.add_parser("set-password", help="set a new password (read from stdin)")
    password.add_argument("name", metavar="NAME")
    role = actions.add_parser("set-role", help="make an account a doctor or an admin")
    role.add_argument("name", metavar="NAME")
    role.add_argument("role", choices=ROLES)
    deleting = actions.add_parser("delete", help="delete an account; its sign-ins end at once")
    deleting.add_argument("name", metavar="NAME")


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise ValueError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Exit code: 0 done, 1 not found / exists / Redis unavailable, 2 invalid name or password."""
    name = normalise_username(getattr(args, "name", "") or "")
    try:
        if args.action != "list":
            check_username(name)
        password = check_password(_read_password()) if args.action in ("add", "set-password") else None
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    try:
        return asyncio.run(_run(args, settings, name, password))
    except AuthStoreUnavailable:
        sys.stderr.write("error: the account store (PostgreSQL at DATABASE_URL) does not answer\n")
        return 1


async def _run(args: argparse.Namespace, settings: Settings, name: str, password: str | None) -> int:
    redis = create_redis(settings)
    database = Database(create_engine(settings), settings.database_timeout)
    users = UserStore(database, redis, settings)
    try:
        if args.action == "list":
            for user in await users.list():
                sys.stdout.write(f"{user.username}\t{user.role}\n")
            return 0
        if args.action == "add":
            assert password is not None
            try:
                await users.create(name, password, args.role)
            except UserExists:
                sys.stderr.write(f"error: the username is taken: {name}\n")
                return 1
            sys.stdout.write(f"created {name} ({args.role})\n")
            return 0
        if args.action == "delete":
            done = await users.delete(name)
        else:
            done = await users.update(name, password=password, role=getattr(args, "role", None)) is not None
        if not done:
            sys.stderr.write(f"error: no such user: {name}\n")
            return 1
        sys.stdout.write(f"{args.action}: {name}\n")
        return 0
    finally:
        await database.engine.dispose()
        await redis.aclose()
