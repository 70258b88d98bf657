"""Reviewed rule files: clinical word lists and patterns that clinicians read and change.

Rules live in TOML files (standard library, comments allowed, regular expressions need no escaping
in '...' strings) beside the code that uses them. `load_rules` reads one into a pydantic model, so a
bad file stops the service at start with one message naming the file and the field, never half-loaded.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class RulesError(ValueError):
    """A rule file that cannot be read or does not follow its schema."""


def where(location: Iterable[int | str]) -> str:
    """A validation error's location as a reader counts: ("rule", 1, "all") -> "rule 2: all";
    ("concepts", "fever", "zh", 0) -> "concept fever: zh 1"."""
    items = list(location)
    parts: list[str] = []
    if len(items) > 1 and items[0] == "concepts":
        parts.append(f"concept {items[1]}")
        items = items[2:]
    for item in items:
        if isinstance(item, int) and parts:
            parts[-1] = f"{parts[-1]} {item + 1}"
        else:
            parts.append(str(item))
    return ": ".join(parts) or "file"


def load_rules(path: Path, model: type[Model]) -> Model:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{path.name}: cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path.name}: not valid TOML: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{where(error['loc'])}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise RulesError(f"{path.name}: " + "; ".join(problems)) from None
