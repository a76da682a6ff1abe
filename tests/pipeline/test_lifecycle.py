"""The record's rules as plain functions: states, validity, identity of a paper, dossier codes."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline import errors
from pipeline.lifecycle import identity_key, next_status, parse_dossier_code, validity_of
from schemas.record import RecordStatus, Validity


def test_states_move_only_along_the_lifecycle() -> None:
    assert next_status("needs_review", "approve") is RecordStatus.approved
    assert next_status("digitised", "approve") is RecordStatus.approved
    assert next_status("approved", "publish") is RecordStatus.published
    assert next_status("needs_review", "reject") is RecordStatus.rejected
    assert next_status("published", "correct") is RecordStatus.published
    for state, action in [
        ("rejected", "approve"),
        ("rejected", "correct"),
        ("published", "approve"),
        ("published", "reject"),
        ("needs_review", "publish"),
        ("digitised", "publish"),
    ]:
        with pytest.raises(errors.InvalidTransition) as info:
            next_status(state, action)  # type: ignore[arg-type]
        assert info.value.code == "invalid_transition"


def test_validity_follows_the_expiry_field_or_the_type_rule() -> None:
    card = validity_of("citizen_id_card", {"issue_date": "2021-05-01", "expiry_date": "2046-05-01"})
    assert card.kind is Validity.until and card.valid_until == dt.date(2046, 5, 1)
    assert card.holds_on(dt.date(2030, 1, 1))
    assert not card.holds_on(dt.date(2046, 5, 2))
    assert not card.holds_on(dt.date(2021, 4, 30)), "not valid before it was issued"
    # The expiry date was not read: unknown, never offered for reuse.
    unread = validity_of("citizen_id_card", {"personal_id": "001099012345"})
    assert unread.kind is Validity.unknown and not unread.holds_on(dt.date(2025, 1, 1))
    legacy = validity_of("legacy_id_card", {})
    assert legacy.valid_until == dt.date(2024, 12, 31)
    assert legacy.holds_on(dt.date(2024, 12, 31)) and not legacy.holds_on(dt.date(2025, 1, 1))
    ct07 = validity_of("residence_confirmation", {"issue_date": "2026-11-01"})
    assert ct07.valid_until == dt.date(2026, 12, 1)
    assert validity_of("residence_confirmation", {}).kind is Validity.unknown
    birth = validity_of("birth_certificate", {"full_name": "NGUYỄN VĂN A"})
    assert birth.kind is Validity.no_expiry and birth.holds_on(dt.date(2090, 1, 1))
    assert validity_of("unknown", {}).kind is Validity.unknown


def test_identity_key_names_one_paper() -> None:
    a = identity_key("citizen_id_card", {"personal_id": "001099012345", "full_name": "A"})
    b = identity_key("citizen_id_card", {"personal_id": "001099012345", "full_name": "B"})
    c = identity_key("citizen_id_card", {"personal_id": "001099012346"})
    assert a is not None and a == b and a != c
    assert "001099012345" not in a, "the key is a digest, not readable personal data"
    other_type = identity_key("legacy_id_card", {"personal_id": "001099012345"})
    assert other_type != a
    assert identity_key("birth_certificate", {"full_name": "NGUYỄN VĂN A"}) is None
    assert identity_key("application_form", {"full_name": "X", "personal_id": "1"}) is None


def test_dossier_codes_need_a_real_date() -> None:
    parsed = parse_dossier_code("000.00.00.H05-230415-0001")
    assert parsed.agency_code == "000.00.00.H05"
    assert parsed.received_on == dt.date(2023, 4, 15)
    assert parsed.sequence == 1
    for bad in ["000.00.00.H05-231345-0001", "000.00.00.H05-230415-001", "H05-230415-0001"]:
        with pytest.raises(errors.InvalidDossierCode):
            parse_dossier_code(bad)
