"""The document types sohoa recognises, loaded from `config/doc_types.yaml`.

One table drives classification (titles), extraction (fields and their
validators) and reuse (validity), so adding a paper type is an entry in the
YAML file, validated here at start-up, not edits in several stages.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

TAXONOMY_PATH = Path(__file__).with_name("doc_types.yaml")

Validator = Literal[
    "name",
    "date",
    "sex",
    "personal_id",
    "legacy_id",
    "digits",
    "text",
    "area",
    "money",
    "enterprise_code",
    "land_serial",
]


class Validity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["none", "expiry_field", "period", "void_after"]
    field: str | None = None
    days: int | None = Field(default=None, gt=0)
    date: dt.date | None = None

    @model_validator(mode="after")
    def _complete(self) -> Validity:
        need = {"expiry_field": "field", "period": "days", "void_after": "date"}.get(self.kind)
        if need and getattr(self, need) is None:
            raise ValueError(f"validity {self.kind} needs {need}")
        return self


class DocTypeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z_]+$")
    name_vi: str
    name_en: str
    titles: list[str]
    fields: dict[str, Validator]
    required: list[str]
    validity: Validity
    identity: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> DocTypeSpec:
        missing = (set(self.required) | set(self.identity)) - set(self.fields)
        if missing:
            raise ValueError(f"{self.code}: fields not declared: {sorted(missing)}")
        if self.validity.field and self.validity.field not in self.fields:
            raise ValueError(f"{self.code}: validity field {self.validity.field} not declared")
        if any(t != t.upper() for t in self.titles):
            raise ValueError(f"{self.code}: titles are written in capitals as printed")
        return self


#: A printed line: words of letters, a dash standing alone between two of them.
_PRINTED_LINE = re.compile(r"[^\W\d_]+( ([-–—] )?[^\W\d_]+)*")


class TaxonomyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    types: list[DocTypeSpec]
    #: Lines printed on many kinds of paper (letterheads, the motto, a card's fixed
    #: print), in their printed case: known text for the restore stage, never a title
    #: that decides a type.
    printed_lines: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> TaxonomyFile:
        codes = [t.code for t in self.types]
        if len(codes) != len(set(codes)):
            raise ValueError("duplicate document-type codes")
        if "unknown" not in codes:
            raise ValueError("the taxonomy must define 'unknown'")
        if any(not _PRINTED_LINE.fullmatch(line) for line in self.printed_lines):
            raise ValueError("printed lines are words of letters, with dashes between them")
        return self


@dataclass(frozen=True)
class DocType:
    """One kind of paper: how its title reads and which fields it carries."""

    code: str
    name_vi: str
    name_en: str
    #: Uppercase titles as printed; the longest matching one decides the type.
    title_patterns: tuple[str, ...]
    fields: tuple[str, ...]
    required: tuple[str, ...]
    validators: dict[str, str]
    validity: Validity
    #: Fields that together name one paper (de-duplication of re-scans); may be empty.
    identity: tuple[str, ...] = ()


def _read(path: Path) -> TaxonomyFile:
    """Read and validate the file; a bad file stops start-up with pydantic's message."""
    return TaxonomyFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def load_taxonomy(path: Path = TAXONOMY_PATH) -> dict[str, DocType]:
    """The document types of the taxonomy file, by code."""
    return _types(_read(path))


def _types(spec: TaxonomyFile) -> dict[str, DocType]:
    return {
        t.code: DocType(
            code=t.code,
            name_vi=t.name_vi,
            name_en=t.name_en,
            title_patterns=tuple(t.titles),
            fields=tuple(t.fields),
            required=tuple(t.required),
            validators=dict(t.fields),
            validity=t.validity,
            identity=tuple(t.identity),
        )
        for t in spec.types
    }


_SPEC = _read(TAXONOMY_PATH)
DOC_TYPES: dict[str, DocType] = _types(_SPEC)
#: Known printed lines that are not titles (``printed_lines`` in the file).
PRINTED_LINES: tuple[str, ...] = tuple(_SPEC.printed_lines)
