"""The importers on the real public data sets in ../shared/data, when that folder is present."""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from pathlib import Path

import pytest

from backend.core.knowledge.importers import read_health39, read_medquad
from tests.core.knowledge.importers import split

SHARED_DATA = Path(__file__).resolve().parents[4].parent / "shared" / "data"
HEALTH39 = SHARED_DATA / "qasystemonmedicalgraph-39health"
MEDQUAD = SHARED_DATA / "medquad"

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"no shared data at {SHARED_DATA}")


@pytest.mark.parametrize("name", ["disease.utf8.csv", "disease.gb18030.csv"])
def test_first_200_rows_of_the_39health_table_parse(name: str) -> None:
    documents, errors = split(itertools.islice(read_health39(HEALTH39 / name), 200))

    assert len(errors) <= 2, [str(e) for e in errors]
    assert len(documents) >= 198
    assert documents[0].metadata["kind"] == "disease"
    with_symptoms = sum(bool(d.metadata["symptoms"]) for d in documents)
    with_department = sum(bool(d.metadata["department"]) for d in documents)
    assert with_symptoms >= 190
    assert with_department >= 195
    assert not any("[详细]" in d.text for d in documents)


def test_both_encodings_of_the_39health_table_read_the_same() -> None:
    utf8 = list(itertools.islice(read_health39(HEALTH39 / "disease.utf8.csv"), 200))
    gb18030 = list(itertools.islice(read_health39(HEALTH39 / "disease.gb18030.csv"), 200))

    assert [getattr(item, "id", None) for item in utf8] == [getattr(item, "id", None) for item in gb18030]


@pytest.mark.parametrize("folder", ["1_CancerGov_QA", "6_NINDS_QA", "9_CDC_QA"])
def test_medquad_folders_parse(folder: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="medqa.knowledge.importers"):
        documents, errors = split(read_medquad(MEDQUAD / folder))

    assert errors == []
    assert len(documents) >= 250
    assert len({d.id for d in documents}) == len(documents)
    qtypes = Counter(d.metadata["qtype"] for d in documents)
    assert qtypes["information"] > 0
    assert all(d.metadata["url"].startswith("http") for d in documents)
    # A few real files have an empty <Focus/> (CDC's vaccines page): most name one.
    assert sum(bool(d.metadata["focus"]) for d in documents) >= 0.9 * len(documents)
