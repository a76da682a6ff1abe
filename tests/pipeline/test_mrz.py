from __future__ import annotations

import pytest

from pipeline.mrz import check_digit, find_td1, parse_td1
from tests.synth import mrz_lines, sample_fields


def test_check_digit_icao_example() -> None:
    # ICAO 9303 part 3 worked example.
    assert check_digit("520727") == 3
    assert check_digit("D23145890") == 7
    assert check_digit("<<<") == 0


@pytest.mark.parametrize("seed", range(5))
def test_rendered_mrz_parses_with_all_checks(seed: int) -> None:
    fields = sample_fields("citizen_id_card", seed)
    mrz = parse_td1(mrz_lines(fields))
    assert mrz is not None and mrz.valid, mrz
    assert mrz.personal_id == fields["personal_id"]
    assert mrz.nationality == "VNM"


def test_ocr_damage_is_repaired_or_caught() -> None:
    lines = mrz_lines(sample_fields("citizen_id_card", 1))
    damaged = [lines[0].replace("<", "K", 2), lines[1].replace("0", "O"), lines[2]]
    assert parse_td1(damaged).valid  # type: ignore[union-attr]
    wrong_digit = lines[1][:3] + str((int(lines[1][3]) + 1) % 10) + lines[1][4:]
    mrz = parse_td1([lines[0], wrong_digit, lines[2]])
    assert mrz is not None
    assert mrz.checks["date_of_birth"] is False
    assert not mrz.valid


def test_find_td1_among_ocr_lines() -> None:
    lines = mrz_lines(sample_fields("citizen_id_card", 2))
    ocr = ["Đặc điểm nhân dạng: Sẹo chấm", "Ngày, tháng, năm: 10/01/2022", *lines]
    assert find_td1(ocr) == lines
    assert find_td1(["no mrz", "here", "at all"]) is None


def test_small_print_misreads_of_line_one_still_find_and_check() -> None:
    lines = mrz_lines(sample_fields("citizen_id_card", 3))
    read_1 = "T" + lines[0][1:14].replace("0", "O") + lines[0][14:]  # "TDVNM", O for 0
    ocr = ["Ngày, tháng, năm: 10/01/2022", read_1, *lines[1:]]
    zone = find_td1(ocr)
    assert zone is not None and zone[1:] == lines[1:]
    mrz = parse_td1(zone)
    assert mrz is not None and mrz.valid, mrz  # the composite sums the repaired digits
