from __future__ import annotations

from PIL import Image

from pipeline.qr import decode_qr, parse_payload
from tests.synth import card_qr_payload, render_page, rotate, sample_fields


def test_card_back_qr_decodes_to_the_printed_truth() -> None:
    fields = sample_fields("citizen_id_card", 8)
    image, _ = render_page("citizen_id_card_back", fields, dpi=200, seed=8)
    qr = parse_payload(decode_qr(image) or "")
    assert qr is not None
    assert qr.personal_id == fields["personal_id"]
    assert qr.full_name == fields["full_name"]
    d, m, y = fields["date_of_birth"].split("/")
    assert qr.date_of_birth == f"{y}-{m}-{d}"
    assert qr.sex == ("male" if fields["sex"] == "Nam" else "female")
    # Upside down still decodes: a QR code carries its own orientation.
    assert decode_qr(rotate(image, 180)) == card_qr_payload(fields)


def test_no_qr_and_foreign_payloads() -> None:
    assert decode_qr(Image.new("L", (400, 300), 255)) is None
    assert parse_payload("https://example.org") is None
    assert parse_payload("12345|x|y|z|Nam|a|01012020") is None
