"""LangChain FAISS stores: texts and metadata out of index.pkl, through a restricted unpickler only."""

from __future__ import annotations

import logging
import os
import pickle
import pickletools
import posix
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document as LCDocument

from backend.core.knowledge.importers import FORMATS, UNSAFE_FORMATS, read_langchain_faiss
from backend.core.knowledge.importers.langchain_faiss import (
    RefusedByAllowList,
    RestrictedUnpickler,
    restricted_loads,
)
from tests.core.knowledge.importers import FIXTURES, split

STORE_ID = "0b5e7c1a-3c2d-4f8e-9a61-2f4d8b7e1c0{}"


COMMUNITY = "langchain_community.docstore.in_memory"


class InMemoryDocstore:
    """Pickles like langchain_community's InMemoryDocstore (a plain object with `_dict`)."""

    def __init__(self, documents: dict[str, Any]) -> None:
        self._dict = documents


@pytest.fixture
def fake_community(monkeypatch: pytest.MonkeyPatch) -> type[InMemoryDocstore]:
    """InMemoryDocstore under langchain_community's module path, so pickle writes that path."""
    for name in ("langchain_community", "langchain_community.docstore", COMMUNITY):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    docstore = type("InMemoryDocstore", (InMemoryDocstore,), {"__module__": COMMUNITY})
    monkeypatch.setattr(sys.modules[COMMUNITY], "InMemoryDocstore", docstore, raising=False)
    return docstore


def _store(
    tmp_path: Path, docstore: type[InMemoryDocstore], docs: dict[str, Any], positions: dict[Any, str]
) -> Path:
    (tmp_path / "index.pkl").write_bytes(pickle.dumps((docstore(docs), positions)))
    return tmp_path


def test_the_real_langchain_store_fixture_is_read(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="medqa.knowledge.importers"):
        documents, errors = split(read_langchain_faiss(FIXTURES / "langchain_faiss"))

    assert errors == []
    assert [d.id for d in documents] == [STORE_ID.format(i) for i in range(1, 5)]
    assert documents[0].text.startswith("流行性感冒由流感病毒引起")
    assert documents[0].title == "influenza_zh.md"  # from metadata["source"]
    assert documents[0].metadata == {"source": "guides/influenza_zh.md", "page": 1}
    assert documents[3].title == "GERD basics"  # metadata["title"] wins
    assert documents[3].metadata["tags"] == ["digestive", "adult"]
    assert "only import stores from a source you trust" in caplog.text
    assert FORMATS["langchain-faiss"] is read_langchain_faiss
    assert "langchain-faiss" in UNSAFE_FORMATS


def test_the_pickle_file_itself_can_be_given() -> None:
    documents, errors = split(read_langchain_faiss(FIXTURES / "langchain_faiss" / "index.pkl"))

    assert len(documents) == 4
    assert errors == []


def test_the_malicious_fixture_is_refused_before_it_can_run(monkeypatch: pytest.MonkeyPatch) -> None:
    data = (FIXTURES / "malicious_faiss" / "index.pkl").read_bytes()
    # The fixture really is an attack: it loads posix.system and calls it (REDUCE).
    strings = [arg for _, arg, _ in pickletools.genops(data) if isinstance(arg, str)]
    assert strings[:2] == ["posix", "system"]
    assert "REDUCE" in {op.name for op, _, _ in pickletools.genops(data)}

    def forbidden(command: str) -> int:
        raise AssertionError(f"os.system was called with {command!r}")

    monkeypatch.setattr(os, "system", forbidden)
    monkeypatch.setattr(posix, "system", forbidden)

    documents, errors = split(read_langchain_faiss(FIXTURES / "malicious_faiss"))

    assert documents == []
    assert [(e.location, e.reason) for e in errors] == [("index.pkl", "unsafe pickle")]
    assert "posix.system is not a class a LangChain store holds" in errors[0].message


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(lambda: (eval, ("1+1",)), id="builtins.eval"),
        pytest.param(lambda: (exec, ("pass",)), id="builtins.exec"),
        pytest.param(lambda: (__import__("subprocess").Popen, (["true"],)), id="subprocess.Popen"),
    ],
)
def test_any_global_outside_the_allow_list_is_refused(payload: Any) -> None:
    class Attack:
        def __reduce__(self) -> Any:
            return payload()

    with pytest.raises(RefusedByAllowList, match="is not a class a LangChain store holds"):
        restricted_loads(pickle.dumps(Attack()))


def test_persistent_ids_are_refused() -> None:
    class WithPersistentId(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            return "external" if obj == "x" else None

    import io

    buffer = io.BytesIO()
    WithPersistentId(buffer).dump(["x"])
    with pytest.raises(RefusedByAllowList, match="persistent"):
        RestrictedUnpickler(io.BytesIO(buffer.getvalue())).load()


def test_documents_follow_the_index_order_and_bad_entries_are_named(
    tmp_path: Path, fake_community: type[InMemoryDocstore]
) -> None:
    docs = {
        "b": LCDocument(page_content="Second by index.", metadata={"source": "/data/b.pdf", "page": (1, 2)}),
        "a": LCDocument(page_content="First by index.\nMore."),
        "empty": LCDocument(page_content="   "),
        "id with spaces": LCDocument(page_content="Odd id.", metadata={"when": {3, 1, 2}, 4: b"x"}),
        "orphan": LCDocument(page_content="Deleted from the index, still in the docstore."),
    }
    path = _store(
        tmp_path, fake_community, docs, {3: "id with spaces", 0: "a", 1: "b", 2: "empty", 4: "gone"}
    )

    documents, errors = split(read_langchain_faiss(path))

    assert [d.text for d in documents] == ["First by index.\nMore.", "Second by index.", "Odd id."]
    assert documents[0].title == "First by index."  # no title or source: the first line
    assert documents[1].title == "b.pdf"
    assert documents[1].metadata == {"source": "/data/b.pdf", "page": [1, 2]}
    odd = documents[2]
    assert odd.id.startswith("id-with-spaces-")
    assert odd.metadata == {"when": [1, 2, 3], "4": "b'x'", "langchain_id": "id with spaces"}
    assert [(e.location, e.reason) for e in errors] == [
        ("index.pkl:2", "invalid document"),
        ("index.pkl:4", "missing"),
    ]


def test_pickles_of_other_shapes_are_not_stores(
    tmp_path: Path, fake_community: type[InMemoryDocstore]
) -> None:
    cases = {
        "list": [1, 2],
        "no docstore": ({"a": 1}, {0: "a"}),
        "bad positions": (fake_community({}), {"0": "a"}),
        "foreign values": (fake_community({"a": "just a string"}), {0: "a"}),
    }
    for name, value in cases.items():
        (tmp_path / "index.pkl").write_bytes(pickle.dumps(value))
        errors = split(read_langchain_faiss(tmp_path))[1]
        assert [e.reason for e in errors] == ["not LangChain"], name


def test_truncated_and_missing_pickles(tmp_path: Path) -> None:
    data = (FIXTURES / "langchain_faiss" / "index.pkl").read_bytes()
    (tmp_path / "index.pkl").write_bytes(data[: len(data) // 2])

    assert [e.reason for e in split(read_langchain_faiss(tmp_path))[1]] == ["malformed pickle"]
    assert [e.reason for e in split(read_langchain_faiss(tmp_path / "absent"))[1]] == ["unreadable"]
