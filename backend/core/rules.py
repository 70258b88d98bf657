"""Reviewed rule files: clinical word lists and patterns that clinicians read and change.

Rules live in TOML files (standard library, comments allowed, regular expressions need no escaping
in '...' strings) beside the code that uses them. `load_rules` reads one into a pydantic model, so a
bad file stops the service at start with one message naming the file and the field, never half-loaded.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class RulesError(ValueError):
    """A rule file that cannot be read or does not follow its schema."""


def load_rules(path: Path, model: type[Model]) -> Model:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(f"{path.name}: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise RulesError(f"{path.name}: {problems}") from exc
