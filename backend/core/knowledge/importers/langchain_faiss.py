"""An existing LangChain FAISS store (`FAISS.save_local`: index.faiss + index.pkl): its texts and metadata.

index.pkl is a pickle of (InMemoryDocstore, {faiss position: docstore id}). Pickle can run code while
loading, so it is read by an unpickler that resolves only the few classes such a file needs, each to a
small stand-in here (langchain-community need not be installed), and refuses every other global. Even
so, pickle stays a format to accept only from trusted hands: the reader warns every time it is used.
The vectors in index.faiss are not read: they come from another embedder, and the repository embeds
documents itself.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

from backend.core.knowledge.importers.base import (
    Item,
    RowError,
    SeenIds,
    clip_title,
    id_from_text,
    log,
    make_document,
    short_title,
)

INDEX_NAME = "index"
_MAX_PICKLE_BYTES = 2 << 30  # a store far beyond any we import: refuse rather than exhaust memory


class _StandIn:
    """Takes whatever state pickle's BUILD gives it, in the shapes pydantic v1/v2 and plain objects use."""

    state: dict[str, Any]

    def __new__(cls, *args: object, **kwargs: object) -> Self:
        # Pickle makes instances with __new__ only (NEWOBJ), so the default state is set here.
        instance = super().__new__(cls)
        instance.state = {}
        return instance

    def __setstate__(self, state: object) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (instance dict, slots dict)
            state = {**(state[0] or {}), **(state[1] or {})}
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(f"unexpected state for {type(self).__name__}")
        inner = state.get("__dict__")  # pydantic models pickle their fields under "__dict__"
        self.state = dict(inner) if isinstance(inner, dict) else dict(state)


class LangChainDocument(_StandIn):
    """Stands in for langchain_core.documents.base.Document: page_content, metadata, id."""


class LangChainDocstore(_StandIn):
    """Stands in for langchain_community.docstore.in_memory.InMemoryDocstore: {id: Document} in `_dict`."""


# Module paths these classes have had across LangChain versions.
_ALLOWED: dict[tuple[str, str], type] = {
    ("langchain_community.docstore.in_memory", "InMemoryDocstore"): LangChainDocstore,
    ("langchain.docstore.in_memory", "InMemoryDocstore"): LangChainDocstore,
    ("langchain_core.documents.base", "Document"): LangChainDocument,
    ("langchain_core.documents", "Document"): LangChainDocument,
    ("langchain.schema.document", "Document"): LangChainDocument,
    ("langchain.docstore.document", "Document"): LangChainDocument,
    ("builtins", "dict"): dict,
    ("builtins", "list"): list,
    ("builtins", "tuple"): tuple,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
}


class RefusedByAllowList(pickle.UnpicklingError):
    """The pickle asked for something outside the allow-list: an attack or not a LangChain store."""


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the classes in _ALLOWED; any other global (os.system, eval, ...) is refused."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise RefusedByAllowList(f"{module}.{name} is not a class a LangChain store holds")
        return allowed

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedByAllowList("persistent references are not part of a LangChain store")


def restricted_loads(data: bytes) -> Any:
    return RestrictedUnpickler(io.BytesIO(data)).load()


def read_langchain_faiss(path: Path) -> Iterator[Item]:
    pkl = path / f"{INDEX_NAME}.pkl" if path.is_dir() else path
    log.warning(
        "langchain-faiss: unpickling %s; only import stores from a source you trust "
        "(classes are restricted to LangChain's docstore and documents, but pickle is not a safe format)",
        pkl,
    )
    loaded = _load(pkl)
    if isinstance(loaded, RowError):
        yield loaded
        return
    docstore, positions = loaded
    if not (pkl.parent / f"{pkl.stem}.faiss").exists():
        log.info(
            "langchain-faiss: no %s.faiss beside %s; not needed, its vectors are never reused",
            pkl.stem,
            pkl.name,
        )
    seen = SeenIds()
    for position, store_id in sorted(positions.items()):
        location = f"{pkl.name}:{position}"
        document = docstore.get(store_id)
        if document is None:
            yield RowError(
                location, f"position {position} names docstore id {store_id!r}, which is missing", "missing"
            )
            continue
        yield _document(store_id, document, location, seen)
    unused = len(docstore) - len(set(positions.values()) & docstore.keys())
    if unused:
        log.info(
            "langchain-faiss: %d docstore entries are not in the index (deleted there) and were skipped",
            unused,
        )


def _load(pkl: Path) -> tuple[dict[str, LangChainDocument], dict[int, str]] | RowError:
    try:
        size = pkl.stat().st_size
        if size > _MAX_PICKLE_BYTES:
            return RowError(
                pkl.name, f"{size} bytes: larger than any store this importer accepts", "too large"
            )
        data = pkl.read_bytes()
    except OSError as exc:
        return RowError(pkl.name, f"cannot read the file: {exc.strerror or exc}", "unreadable")
    try:
        loaded = restricted_loads(data)
    except RefusedByAllowList as exc:
        return RowError(pkl.name, f"refused to unpickle: {exc}", "unsafe pickle")
    except Exception as exc:  # a truncated or corrupt pickle fails in many ways; all mean "not readable"
        return RowError(pkl.name, f"not a readable pickle: {type(exc).__name__}: {exc}", "malformed pickle")
    if not (isinstance(loaded, tuple) and len(loaded) == 2):
        return RowError(
            pkl.name,
            "not a LangChain FAISS store: expected (docstore, index_to_docstore_id)",
            "not LangChain",
        )
    docstore, positions = loaded
    if not isinstance(docstore, LangChainDocstore) or not isinstance(docstore.state.get("_dict"), dict):
        return RowError(
            pkl.name, "not a LangChain FAISS store: the docstore is not an InMemoryDocstore", "not LangChain"
        )
    if not isinstance(positions, dict) or not all(
        isinstance(k, int) and isinstance(v, str) for k, v in positions.items()
    ):
        return RowError(pkl.name, "not a LangChain FAISS store: bad index_to_docstore_id", "not LangChain")
    documents = docstore.state["_dict"]
    if not all(isinstance(k, str) and isinstance(v, LangChainDocument) for k, v in documents.items()):
        return RowError(
            pkl.name, "not a LangChain FAISS store: the docstore holds other objects", "not LangChain"
        )
    return documents, positions


def _document(store_id: str, document: LangChainDocument, location: str, seen: SeenIds) -> Item:
    text = document.state.get("page_content")
    if not isinstance(text, str) or not text.strip():
        return RowError(location, "page_content is empty", "invalid document")
    raw_metadata = document.state.get("metadata")
    metadata: dict[str, Any] = _jsonable(raw_metadata) if isinstance(raw_metadata, dict) else {}
    title = metadata.get("title")
    if not isinstance(title, str) or not title.strip():
        source = metadata.get("source")
        title = Path(source).name if isinstance(source, str) and source.strip() else short_title(text)
    doc_id = id_from_text("", store_id)
    if doc_id != store_id:
        metadata["langchain_id"] = store_id
    data = {"id": doc_id, "title": clip_title(title), "text": text.strip(), "metadata": metadata}
    item = make_document(data, location)
    return item if isinstance(item, RowError) else seen.check(item, location)


def _jsonable(value: Any) -> Any:
    """Metadata as JSON can hold it: tuples and sets become lists, other keys and values strings."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(item) for item in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    return str(value)
