"""`python -m backend.cli kb ...`, run as the operator runs it: a real process on a real data directory."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import pty
import struct
import subprocess
import sys
import termios
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backend import cli
from backend.core.config import Settings
from backend.core.knowledge.store.documents import Document
from backend.core.knowledge.store.repository import KnowledgeRepository, PendingBatch

PROJECT = Path(__file__).resolve().parents[1]
FIXTURES = PROJECT / "tests" / "fixtures" / "kb"


@pytest.fixture(autouse=True)
def _own_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes go through the system of record: each test has a database of its own."""
    monkeypatch.setenv("DATABASE_URL", database_url)


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "DATA_DIR": str(data_dir), "EMBEDDER": "hashing"}


def kb(data_dir: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", "kb", *map(str, args)],
        cwd=PROJECT,
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=90,
    )


def stores(data_dir: Path) -> dict[str, dict[str, Any]]:
    listed = kb(data_dir, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return {store["name"]: store for store in json.loads(listed.stdout)}


def test_import_prints_bad_lines_and_a_summary_and_reimporting_replaces(tmp_path: Path) -> None:
    first = kb(tmp_path, "import", "--format", "jsonl", "--store", "guides", FIXTURES / "docs.jsonl")

    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[:2] == [
        "skipped docs.jsonl:3: invalid JSON: Expecting ',' delimiter at column 63",
        "skipped docs.jsonl:4: invalid document: title: Field required",
    ]
    assert lines[2].startswith(f"imported 3 documents from {FIXTURES / 'docs.jsonl'} into store 'guides' in ")
    assert lines[3] == "skipped 2 rows: 1 invalid JSON, 1 invalid document"
    assert lines[4].startswith("store 'guides': version 1, 3 documents, 3 chunks, index ")

    again = kb(tmp_path, "import", "--format", "jsonl", "--store", "guides", FIXTURES / "docs.jsonl")

    assert again.returncode == 0, again.stderr
    assert "store 'guides': version 2, 3 documents, 3 chunks" in again.stdout
    listed = stores(tmp_path)["guides"]
    assert (listed["version"], listed["documents"], listed["chunks"]) == (2, 3, 3)

    more = kb(tmp_path, "import", "--format", "csv", "--store", "guides", FIXTURES / "docs.csv")

    assert more.returncode == 0, more.stderr
    assert "skipped docs.csv:5: 2 cells, but the header has 5" in more.stdout
    assert stores(tmp_path)["guides"]["documents"] == 6


FORMAT_FIXTURES = [
    # format, fixture, documents, bad rows as printed, a line expected on stderr
    ("health39", "health39_utf8.csv", 4, ["health39_utf8.csv:4: text beyond the 15 named columns"], ""),
    ("health39", "health39_gb18030.csv", 2, ["health39_gb18030.csv:3: name is empty"], ""),
    ("medquad", "medquad", 4, [], "note: medquad: skipped 1 of 5 question(s) without an answer"),
    ("text", "texts", 2, [], ""),
    ("langchain-faiss", "langchain_faiss", 4, [], "warning: langchain-faiss: unpickling"),
]


def test_every_format_imports_its_fixture(tmp_path: Path) -> None:
    expected = {}
    for number, (fmt, path, documents, bad_rows, stderr) in enumerate(FORMAT_FIXTURES):
        store = f"kb-{number}"
        extra = ["--allow-pickle"] if fmt == "langchain-faiss" else []
        result = kb(tmp_path, "import", "--format", fmt, "--store", store, FIXTURES / path, *extra)

        assert result.returncode == 0, result.stdout + result.stderr
        assert f"imported {documents} documents" in result.stdout, fmt
        for bad in bad_rows:
            assert f"skipped {bad}" in result.stdout, fmt
        assert f"skipped {len(bad_rows)} row" in result.stdout, fmt
        assert stderr in result.stderr, fmt
        expected[store] = documents

    assert {name: info["documents"] for name, info in stores(tmp_path).items()} == expected


def test_nothing_importable_exits_1_and_leaves_no_store(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\nnot json\n', encoding="utf-8")
    data = tmp_path / "data"

    result = kb(data, "import", "--format", "jsonl", "--store", "empty", bad)

    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "skipped bad.jsonl:1: invalid document: title: Field required; text: Field required",
        "skipped bad.jsonl:2: invalid JSON: Expecting value at column 1",
        f"nothing imported: no document could be read from {bad}",
        "skipped 2 rows: 1 invalid document, 1 invalid JSON",
    ]
    assert stores(data) == {}


def test_the_malicious_pickle_is_refused_even_with_allow_pickle(tmp_path: Path) -> None:
    result = kb(
        tmp_path,
        "import",
        "--format",
        "langchain-faiss",
        "--store",
        "lc",
        FIXTURES / "malicious_faiss",
        "--allow-pickle",
    )

    assert result.returncode == 1
    assert (
        "skipped index.pkl: refused to unpickle: posix.system is not a class a LangChain store holds"
        in result.stdout
    )
    # Had os.system run, its echo would have written to this process's stdout.
    assert "restricted-unpickler-bypassed" not in result.stdout + result.stderr
    assert stores(tmp_path) == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: ACTION"),
        (["import", "--format", "xml", "--store", "s", "x"], "argument --format: invalid choice: 'xml'"),
        (["import", "--format", "jsonl", "--store", "s"], "the following arguments are required: PATH"),
        (
            ["import", "--format", "jsonl", "--store", "s", "/nonexistent/docs.jsonl"],
            "no such file or directory",
        ),
        (
            ["import", "--format", "jsonl", "--store", "Bad Name", str(FIXTURES / "docs.jsonl")],
            "invalid store name",
        ),
        (["delete-store", "../etc"], "invalid store name"),
        (["delete-doc", "guides"], "the following arguments are required: DOC_ID"),
    ],
)
def test_usage_errors_exit_2_and_touch_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["kb", *args])

    assert exit_info.value.code == 2
    stderr = capsys.readouterr().err
    assert message in stderr
    assert "usage: python -m backend.cli kb" in stderr
    assert not (tmp_path / "kb").exists()


def test_langchain_faiss_without_allow_pickle_is_a_usage_error(tmp_path: Path) -> None:
    result = kb(
        tmp_path, "import", "--format", "langchain-faiss", "--store", "lc", FIXTURES / "langchain_faiss"
    )

    assert result.returncode == 2
    assert "usage: python -m backend.cli kb import" in result.stderr
    assert "add --allow-pickle if, and only if, you trust where this store came from" in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "kb").exists()


def test_delete_a_document_then_the_store(tmp_path: Path) -> None:
    assert (
        kb(tmp_path, "import", "--format", "jsonl", "--store", "guides", FIXTURES / "docs.jsonl").returncode
        == 0
    )

    deleted = kb(tmp_path, "delete-doc", "guides", "guide-home-bp")
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.startswith(
        "deleted document 'guide-home-bp'; store 'guides': version 2, 2 documents"
    )

    assert (
        kb(tmp_path, "delete-doc", "guides", "guide-home-bp").stdout
        == "no document 'guide-home-bp' in store 'guides'\n"
    )
    assert kb(tmp_path, "delete-doc", "guides", "guide-home-bp").returncode == 1
    assert kb(tmp_path, "delete-doc", "absent", "x").returncode == 1

    table = kb(tmp_path, "list").stdout.splitlines()
    assert table[0].split() == ["NAME", "VERSION", "DOCUMENTS", "CHUNKS", "INDEX", "EMBEDDER"]
    assert table[1].split()[:4] == ["guides", "2", "2", "2"]

    assert kb(tmp_path, "delete-store", "guides").stdout == "deleted store 'guides'\n"
    assert kb(tmp_path, "list").stdout == "no knowledge stores in the database\n"
    again = kb(tmp_path, "delete-store", "guides")
    assert (again.returncode, again.stdout) == (1, "no store named 'guides'\n")


def test_an_exported_store_imports_back_as_the_same_documents(tmp_path: Path) -> None:
    assert (
        kb(tmp_path, "import", "--format", "jsonl", "--store", "guides", FIXTURES / "docs.jsonl").returncode
        == 0
    )
    exported = tmp_path / "guides.jsonl"
    result = kb(tmp_path, "export", "guides", "--output", exported)
    assert result.returncode == 0, result.stderr
    assert "exported 3 documents of store 'guides'" in result.stderr
    # Another host, with nothing of its own, reads it back into another store.
    again = kb(tmp_path / "other", "import", "--format", "jsonl", "--store", "copy", exported)
    assert again.returncode == 0, again.stdout
    original = [json.loads(line) for line in exported.read_text().splitlines()]
    copy = kb(tmp_path, "export", "copy").stdout.splitlines()
    assert [json.loads(line) for line in copy] == original
    assert "guide-home-bp" in {row["id"] for row in original}
    assert kb(tmp_path, "export", "absent").returncode == 1


def test_progress_bars_show_on_a_terminal_and_stay_out_of_stdout(tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    # A new pseudo-terminal is 0 columns wide; give it a real terminal's size.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "backend.cli",
            "kb",
            "import",
            "--format",
            "csv",
            "--store",
            "bars",
            str(FIXTURES / "docs.csv"),
        ],
        cwd=PROJECT,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
    ) as process:
        os.close(terminal)
        stdout, _ = process.communicate(timeout=90)
        stderr = _drain(controller)

    assert process.returncode == 0
    assert "reading: " in stderr
    assert "indexing (embedding and writing): 100%" in stderr
    assert "3/3" in stderr
    assert "\r" not in stdout
    assert "imported 3 documents" in stdout


def _drain(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO once the child's end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace")


@pytest.fixture
def cli_logging() -> Iterator[None]:
    """main() installs its own log handler; put the loggers back for the rest of the test session."""
    loggers = [logging.getLogger("medqa"), logging.getLogger("medqa.knowledge.importers")]
    saved = [(lg.handlers[:], lg.propagate, lg.level) for lg in loggers]
    yield
    for lg, (handlers, propagate, level) in zip(loggers, saved, strict=True):
        lg.handlers[:], lg.propagate, lg.level = handlers, propagate, level


@pytest.mark.usefixtures("cli_logging")
def test_a_failed_write_exits_1_and_leaves_the_store_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class FullDisk(KnowledgeRepository):
        def compose(
            self, store: str, documents: Iterable[Document], *args: Any, **kwargs: Any
        ) -> PendingBatch:
            if store == "broken":
                raise OSError(28, "No space left on device")
            return super().compose(store, documents, *args, **kwargs)

    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    argv = ["kb", "import", "--format", "jsonl", "--store"]
    assert cli.main([*argv, "broken", str(FIXTURES / "docs.jsonl")], repository_factory=FullDisk) == 1
    assert cli.main([*argv, "fine", str(FIXTURES / "docs.jsonl")], repository_factory=FullDisk) == 0

    out = capsys.readouterr().out
    assert "import failed, store 'broken' is unchanged: OSError: [Errno 28] No space left on device" in out
    assert [info.name for info in KnowledgeRepository(Settings(data_dir=tmp_path)).list_stores()] == ["fine"]


@pytest.mark.usefixtures("cli_logging")
def test_rebuild_converts_a_store_of_the_hashed_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from backend.core.knowledge.graph.diseases import starter_diseases
    from backend.core.knowledge.retrieval.searcher import StoreSearcher

    record = next(iter(starter_diseases()))
    old = tmp_path / "kb" / "old" / "v000003"
    old.mkdir(parents=True)
    (old.parent / "CURRENT").write_text("v000003\n")
    rows = [
        {"doc_id": "note", "title": "Note", "text": "First part about asthma inhalers, and", "position": 0},
        {"doc_id": "note", "title": "Note", "text": "inhalers, and then spacers.", "position": 1},
        {"doc_id": record.id, "title": record.name, "text": "...", "position": 0,
         "metadata": {"kind": "disease", **record.model_dump(exclude={"id"})}},
    ]  # fmt: skip
    (old / "chunks.jsonl").write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    repository = KnowledgeRepository(Settings(data_dir=tmp_path))
    assert repository.list_stores() == []  # not served until rebuilt
    assert cli.main(["kb", "rebuild"]) == 0
    assert "rebuilt store 'old'" in capsys.readouterr().out
    info = repository.info("old")
    assert info.documents == 2
    assert [c.text for c in repository.read_document("old", "note")] == [
        "First part about asthma inhalers, and then spacers."
    ]
    sections = [c.metadata["section"] for c in repository.read_document("old", record.id)]
    assert "症状" in sections  # the disease is chunked by field now
    found = StoreSearcher(repository, info, "").search("asthma spacers", [], None, 3)
    assert found[0][1].doc_id == "note"
