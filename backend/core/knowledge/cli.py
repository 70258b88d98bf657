"""`python -m backend.cli kb ...`: knowledge stores from the operator's shell.

    kb import --format FORMAT --store NAME PATH [--allow-pickle]
    kb list [--json]
    kb export NAME [--output PATH]   the store's documents as JSON lines (`kb import --format jsonl`)
    kb delete-store NAME
    kb delete-doc NAME DOC_ID
    kb rebuild [NAME ...]      rebuild this host's indexes from the stores' documents (all by default);
                               converts stores written by the hashed-embedding release

Writes go through the system of record (DATABASE_URL), as the services' do, and every replica
serves them within seconds. Exit codes: 0 done (an import with skipped rows included), 1 nothing
could be done (no document read, store or document not found, the database unavailable, the write
failed: the store is then unchanged), 2 usage errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

import orjson
from tqdm import tqdm

from backend.core.config import Settings
from backend.core.db.engine import Database, DatabaseUnavailable, create_engine
from backend.core.knowledge.importers import FORMATS, UNSAFE_FORMATS, RowError
from backend.core.knowledge.replication import LocalWriteError, Replication, channel
from backend.core.knowledge.retrieval.indexer import Indexer
from backend.core.knowledge.store.central import CentralStore
from backend.core.knowledge.store.documents import Document, valid_store_name
from backend.core.knowledge.store.legacy import legacy_documents, set_aside
from backend.core.knowledge.store.repository import (
    DocumentNotFound,
    KnowledgeRepository,
    StoreInfo,
    StoreNotFound,
)
from backend.core.redis import create_redis

RepositoryFactory = Callable[[Settings], KnowledgeRepository]


class _TqdmHandler(logging.Handler):
    """Log lines for a person at a terminal, written around the progress bars instead of through them."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = "note" if record.levelno <= logging.INFO else record.levelname.lower()
            tqdm.write(f"{level}: {record.getMessage()}", file=sys.stderr)
        except Exception:
            self.handleError(record)


def _configure_logging() -> None:
    handler = _TqdmHandler()
    root = logging.getLogger("medqa")
    root.handlers[:] = [handler]
    root.propagate = False
    # The repository's INFO lines carry their details as structured extras, meant for JSON logs;
    # here the summary says the same. Importers' notes (skipped by design, trust warnings) stay.
    root.setLevel(logging.WARNING)
    logging.getLogger("medqa.knowledge.importers").setLevel(logging.INFO)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kb = commands.add_parser("kb", help="knowledge stores: import, list, delete")
    actions = kb.add_subparsers(dest="action", required=True, metavar="ACTION")

    importing = actions.add_parser(
        "import",
        help="read documents from PATH and add them to a store (same id replaces)",
        description="Read documents from PATH and add them to a store; a document whose id is "
        "already there replaces it. The store gets a new version, or stays as it was on error.",
    )
    importing.add_argument("--format", required=True, choices=sorted(FORMATS), help="format of PATH")
    importing.add_argument("--store", required=True, metavar="NAME", help="store to add to (created if new)")
    importing.add_argument("path", type=Path, metavar="PATH", help="file or directory to read")
    importing.add_argument(
        "--allow-pickle",
        action="store_true",
        help="required by langchain-faiss, which unpickles index.pkl: only for stores from sources you trust",
    )
    importing.set_defaults(subparser=importing)

    listing = actions.add_parser("list", help="list stores with their version, documents and chunks")
    listing.set_defaults(subparser=listing)
    listing.add_argument("--json", action="store_true", help="one JSON array instead of a table")

    delete_store = actions.add_parser("delete-store", help="delete a store and all its versions")
    delete_store.add_argument("name", metavar="NAME")
    delete_store.set_defaults(subparser=delete_store)

    delete_doc = actions.add_parser("delete-doc", help="delete one document from a store")
    delete_doc.add_argument("name", metavar="NAME")
    delete_doc.add_argument("doc_id", metavar="DOC_ID")
    delete_doc.set_defaults(subparser=delete_doc)
    rebuild = actions.add_parser(
        "rebuild", help="rebuild the indexes of stores from their documents (converts legacy stores)"
    )
    rebuild.add_argument("names", nargs="*", metavar="NAME", help="stores to rebuild (default: all)")
    rebuild.set_defaults(subparser=rebuild)
    exporting = actions.add_parser("export", help="write a store's documents as JSON lines")
    exporting.add_argument("name", metavar="NAME")
    exporting.add_argument("--output", type=Path, metavar="PATH", help="file to write (default: stdout)")
    exporting.set_defaults(subparser=exporting)


def run(args: argparse.Namespace, settings: Settings, repository_factory: RepositoryFactory) -> int:
    parser: argparse.ArgumentParser = args.subparser  # errors print the usage of the action at fault
    store = getattr(args, "store", None) or getattr(args, "name", None)
    if store is not None and not valid_store_name(store):
        parser.error(
            f"invalid store name {store!r}: use a-z, 0-9, '-' and '_', at most 64, starting a-z or 0-9"
        )
    if args.action == "import":
        if args.format in UNSAFE_FORMATS and not args.allow_pickle:
            parser.error(
                f"--format {args.format} unpickles the index.pkl at {args.path}, which a crafted file can "
                "abuse; add --allow-pickle if, and only if, you trust where this store came from"
            )
        if not args.path.exists():
            parser.error(f"{args.path}: no such file or directory")
    _configure_logging()
    repository = repository_factory(settings)
    if args.action == "import":
        documents = _read(args.format, args.path)
        if documents is None:
            return 1
        return _replicated(settings, repository, lambda r: _import(r, args.store, args.path, *documents))
    if args.action == "rebuild":
        return _replicated(settings, repository, lambda r: _rebuild(r, args.names))
    if args.action == "list":
        return _replicated(settings, repository, lambda r: _list(r, as_json=args.json))
    if args.action == "export":
        return _replicated(settings, repository, lambda r: _export(r, args.name, args.output))
    if args.action == "delete-store":
        return _replicated(settings, repository, lambda r: _delete_store(r, args.name))
    return _replicated(settings, repository, lambda r: _delete_document(r, args.name, args.doc_id))


def _replicated(
    settings: Settings, repository: KnowledgeRepository, work: Callable[[Replication], Awaitable[int]]
) -> int:
    """Run one command against the system of record, with this host's copy in `repository`."""

    async def main() -> int:
        database = Database(create_engine(settings), settings.database_timeout)
        redis = create_redis(settings)

        async def announce(store: str) -> None:
            await redis.publish(channel(settings), store)

        try:
            return await work(Replication(Indexer(repository), CentralStore(database), announce))
        except DatabaseUnavailable as exc:
            _write(sys.stdout, f"database unavailable ({exc}): nothing was changed; retry when it answers")
            return 1
        finally:
            with contextlib.suppress(Exception):
                await redis.aclose()
            await database.engine.dispose()

    return asyncio.run(main())


def _read(format_name: str, path: Path) -> tuple[list[Document], list[RowError], float] | None:
    out = sys.stdout
    started = time.monotonic()
    documents: list[Document] = []
    errors: list[RowError] = []
    with tqdm(desc="reading", unit=" docs", file=sys.stderr, disable=None, dynamic_ncols=True) as bar:
        for item in FORMATS[format_name](path):
            if isinstance(item, RowError):
                errors.append(item)
                tqdm.write(f"skipped {item.location}: {item.message}", file=out)
            else:
                documents.append(item)
                bar.update(1)
    if not documents:
        _write(out, f"nothing imported: no document could be read from {path}")
        _write_skipped(out, errors)
        return None
    return documents, errors, started


async def _import(
    replication: Replication,
    store: str,
    path: Path,
    documents: list[Document],
    errors: list[RowError],
    started: float,
) -> int:
    out = sys.stdout
    read_seconds = time.monotonic() - started
    try:
        with tqdm(
            total=len(documents),
            desc="indexing",
            unit=" docs",
            file=sys.stderr,
            disable=None,
            dynamic_ncols=True,
        ) as bar:

            def advance(count: int) -> None:
                bar.update(count)
                if bar.n >= len(documents):
                    # The repository reports chunking; embedding and writing follow with no count.
                    bar.set_description("indexing (embedding and writing)")

            info = await replication.upsert(store, documents, on_progress=advance)
    except Exception as exc:  # any failure (database, disk, embedder...) before the commit changes nothing
        reason = str(exc) if isinstance(exc, LocalWriteError) else f"{type(exc).__name__}: {exc}"
        _write(out, f"import failed, store {store!r} is unchanged: {reason}")
        _write_skipped(out, errors)
        return 1
    seconds = time.monotonic() - started
    _write(
        out,
        f"imported {len(documents)} documents from {path} into store {store!r} in {seconds:.1f} s "
        f"(reading {read_seconds:.1f} s, indexing {seconds - read_seconds:.1f} s)",
    )
    _write_skipped(out, errors)
    _write(out, f"store {_describe(info)}")
    return 0


def _write_skipped(out: TextIO, errors: list[RowError]) -> None:
    if not errors:
        _write(out, "skipped 0 rows")
        return
    reasons = Counter(error.reason for error in errors)
    _write(
        out,
        f"skipped {len(errors)} {'row' if len(errors) == 1 else 'rows'}: "
        + ", ".join(f"{n} {reason}" for reason, n in reasons.most_common()),
    )


def _describe(info: StoreInfo) -> str:
    return (
        f"{info.name!r}: version {info.version}, {info.documents} documents, {info.chunks} chunks, "
        f"index {info.index_type}, embedder {info.embedder}"
    )


async def _list(replication: Replication, *, as_json: bool) -> int:
    stores = await replication.central.infos()
    if as_json:
        sys.stdout.write(orjson.dumps([info.model_dump() for info in stores]).decode() + "\n")
        return 0
    if not stores:
        _write(sys.stdout, "no knowledge stores in the database")
        return 0
    rows = [("NAME", "VERSION", "DOCUMENTS", "CHUNKS", "INDEX", "EMBEDDER")]
    rows += [
        (i.name, str(i.version), str(i.documents), str(i.chunks), i.index_type, i.embedder) for i in stores
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        _write(
            sys.stdout, "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


async def _export(replication: Replication, name: str, output: Path | None) -> int:
    if name not in {info.name for info in await replication.central.infos()}:
        _write(sys.stderr, f"no store named {name!r}")
        return 1
    count = 0
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(output.open("wb")) if output else sys.stdout.buffer
        async for document in replication.central.export(name):
            out.write(orjson.dumps(document.model_dump()) + b"\n")
            count += 1
        out.flush()
    _write(sys.stderr, f"exported {count} documents of store {name!r}")
    return 0


async def _delete_store(replication: Replication, name: str) -> int:
    try:
        await replication.delete_store(name)
    except StoreNotFound:
        _write(sys.stdout, f"no store named {name!r}")
        return 1
    _write(sys.stdout, f"deleted store {name!r}")
    return 0


async def _delete_document(replication: Replication, name: str, doc_id: str) -> int:
    try:
        info = await replication.delete_document(name, doc_id)
    except StoreNotFound:
        _write(sys.stdout, f"no store named {name!r}")
        return 1
    except DocumentNotFound:
        _write(sys.stdout, f"no document {doc_id!r} in store {name!r}")
        return 1
    _write(sys.stdout, f"deleted document {doc_id!r}; store {_describe(info)}")
    return 0


async def _rebuild(replication: Replication, names: list[str]) -> int:
    repository = replication.repository
    indexer = replication.indexer
    with contextlib.suppress(DatabaseUnavailable):
        await replication.pull_all()  # rebuild what the database holds, not a stale copy
    legacy = repository.legacy_stores()
    wanted = names or [*legacy, *(info.name for info in repository.list_stores())]
    status = 0
    for name in tqdm(wanted, desc="rebuilding", unit=" stores", file=sys.stderr, disable=None):
        try:
            if name in legacy:
                documents = list(legacy_documents(repository.store_dir(name)))
                aside = set_aside(repository.store_dir(name))
                info = await replication.upsert(
                    name, tqdm(documents, desc=name, unit=" docs", file=sys.stderr, disable=None)
                )
                shutil.rmtree(aside, ignore_errors=True)
            else:
                info = await asyncio.to_thread(indexer.rebuild, name)
        except StoreNotFound:
            _write(sys.stdout, f"no store named {name!r}")
            status = 1
            continue
        _write(sys.stdout, f"rebuilt store {_describe(info)}")
    return status


def _write(out: TextIO, line: str) -> None:
    out.write(line + "\n")
    out.flush()
