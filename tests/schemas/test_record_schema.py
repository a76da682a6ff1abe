from __future__ import annotations

import json

from schemas.record import SCHEMA_PATH, Record, record_json_schema, render_record_schema


def test_schema_file_matches_model() -> None:
    """Regenerate with `sohoa schema --write` when the model changes."""
    assert json.loads(SCHEMA_PATH.read_text(encoding="utf-8")) == record_json_schema()
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_record_schema()


def test_schema_lists_the_contract_fields() -> None:
    props = record_json_schema()["properties"]
    assert isinstance(props, dict)
    for name in (
        "record_code",
        "document_id",
        "source",
        "sha256",
        "pages",
        "doc_type",
        "doc_type_confidence",
        "fields",
        "text",
        "status",
        "error",
    ):
        assert name in props


def test_record_rejects_bad_status() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Record.model_validate(
            {
                "record_code": "x",
                "document_id": "d",
                "source": "s",
                "sha256": "0" * 64,
                "pages": [1],
                "doc_type": "unknown",
                "doc_type_confidence": 0.5,
                "status": "done",
            }
        )
