"""The taxonomy file is validated at start-up: a broken entry stops sohoa with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from config.taxonomy import DOC_TYPES, PRINTED_LINES, TAXONOMY_PATH, load_taxonomy


def _write(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(TAXONOMY_PATH.read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "doc_types.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_shipped_taxonomy_loads() -> None:
    assert DOC_TYPES["citizen_id_card"].validity.kind == "expiry_field"
    assert DOC_TYPES["citizen_id_card"].validators["personal_id"] == "personal_id"
    assert DOC_TYPES["household_register"].validity.date.isoformat() == "2022-12-31"  # type: ignore[union-attr]
    # Letterhead lines are known text, never a title that would decide a type.
    assert "SOCIALIST REPUBLIC OF VIET NAM" in PRINTED_LINES
    assert "Độc lập - Tự do - Hạnh phúc" in PRINTED_LINES  # the motto, as printed
    titles = {t for d in DOC_TYPES.values() for t in d.title_patterns}
    assert not titles & set(PRINTED_LINES)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["types"][0]["required"].append("no_such_field"), "fields not declared"),
        (lambda d: d["types"][0]["identity"].append("no_such_field"), "fields not declared"),
        (lambda d: d["types"][0]["fields"].update(x="no_such_validator"), "x"),
        (lambda d: d["types"].append(dict(d["types"][0])), "duplicate"),
        (lambda d: d["types"][0].update(validity={"kind": "period"}), "needs days"),
        (lambda d: d["types"][0]["titles"].append("Căn cước"), "capitals"),
        (lambda d: d["printed_lines"].append("Bộ Công an (2024)"), "words of letters"),
    ],
)
def test_bad_taxonomy_is_refused(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match=message):
        load_taxonomy(_write(tmp_path, mutate))


def test_adding_a_type_is_a_yaml_entry(tmp_path: Path) -> None:
    def add(d):  # type: ignore[no-untyped-def]
        d["types"].append(
            {
                "code": "health_insurance_card",
                "name_vi": "Thẻ bảo hiểm y tế",
                "name_en": "Health insurance card",
                "titles": ["THẺ BẢO HIỂM Y TẾ"],
                "fields": {"full_name": "name"},
                "required": ["full_name"],
                "validity": {"kind": "none"},
            }
        )

    types = load_taxonomy(_write(tmp_path, add))
    assert types["health_insurance_card"].title_patterns == ("THẺ BẢO HIỂM Y TẾ",)
