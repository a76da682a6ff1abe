from __future__ import annotations

import pytest

from pipeline import errors
from pipeline.intake import check_dossier_code, safe_name, sha256_of, triage
from pipeline.types import FileKind, Limits
from tests import badfiles


@pytest.mark.parametrize(("name", "data", "code"), badfiles.bad_inputs())
def test_each_bad_input_has_its_own_code(name: str, data: bytes, code: str) -> None:
    with pytest.raises(errors.SohoaError) as info:
        triage(data, Limits())
    assert info.value.code == code
    assert info.value.code in errors.ERROR_CODES


def test_codes_are_distinct() -> None:
    codes = [code for _, _, code in badfiles.bad_inputs()]
    assert len(set(codes)) == len(codes)


def test_good_pdf_is_counted() -> None:
    tri = triage(badfiles.small_pdf(3), Limits())
    assert tri.kind is FileKind.pdf
    assert tri.page_count == 3


def test_page_limit() -> None:
    with pytest.raises(errors.TooManyPages):
        triage(badfiles.small_pdf(3), Limits(max_pages=2))


def test_file_size_limit() -> None:
    with pytest.raises(errors.FileTooLarge):
        triage(badfiles.small_pdf(1), Limits(max_file_bytes=100))


def test_sha256() -> None:
    assert sha256_of(b"abc").startswith("ba7816bf")


def test_safe_name_strips_paths_and_controls() -> None:
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("a\x00b\nc.pdf") == "abc.pdf"
    assert len(safe_name("x" * 300 + ".pdf")) == 200


def test_dossier_code() -> None:
    assert check_dossier_code("000.00.00.H55-230415-0001") == "000.00.00.H55-230415-0001"
    assert check_dossier_code(None) is None
    with pytest.raises(errors.InvalidDossierCode):
        check_dossier_code("H55-2304-1")
