"""Operator commands, `python -m backend.cli COMMAND ...`:

    kb ...      knowledge stores: import, list, export, delete, rebuild (backend/core/knowledge/cli.py)
    users ...   doctor accounts (backend/doctor/auth/accounts_cli.py)
    db ...      the PostgreSQL system of record: migrate, status, import-legacy (backend/core/db/cli.py)

Exit codes: 0 done, 1 nothing could be done (the command says why), 2 usage errors.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from backend.core.config import load_settings
from backend.core.db import cli as db_cli
from backend.core.knowledge import cli as kb_cli
from backend.core.knowledge.cli import RepositoryFactory
from backend.core.knowledge.store.repository import KnowledgeRepository
from backend.doctor.auth import accounts_cli


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backend.cli", description="MedQA operator commands.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    kb_cli.add_parser(commands)
    accounts_cli.add_parser(commands)
    db_cli.add_parser(commands)
    return parser


def main(
    argv: Sequence[str] | None = None, repository_factory: RepositoryFactory = KnowledgeRepository
) -> int:
    args = _parser().parse_args(argv)
    if args.command == "users":
        return accounts_cli.run(args, load_settings())
    if args.command == "db":
        return db_cli.run(args, load_settings())
    return kb_cli.run(args, load_settings(), repository_factory)


if __name__ == "__main__":
    raise SystemExit(main())
