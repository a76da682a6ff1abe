"""The document types sohoa recognises, with the titles printed on them.

One table drives classification (title patterns) and extraction (fields), so
adding a paper type is one entry here, not edits in several stages.
"""

from __future__ import annotations

from dataclasses import dataclass


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


_TYPES: tuple[DocType, ...] = (
    DocType(
        code="citizen_id_card",
        name_vi="Căn cước công dân",
        name_en="Citizen identity card",
        title_patterns=(
            "CĂN CƯỚC CÔNG DÂN",
            "CITIZEN IDENTITY CARD",
            "CĂN CƯỚC",
            "IDENTITY CARD",
        ),
        fields=(
            "personal_id",
            "full_name",
            "date_of_birth",
            "sex",
            "nationality",
            "place_of_origin",
            "place_of_residence",
            "issue_date",
            "expiry_date",
        ),
        required=("personal_id", "full_name", "date_of_birth"),
    ),
    DocType(
        code="legacy_id_card",
        name_vi="Chứng minh nhân dân",
        name_en="Legacy identity card",
        title_patterns=("CHỨNG MINH NHÂN DÂN",),
        fields=("personal_id", "full_name", "date_of_birth", "issue_date"),
        required=("personal_id", "full_name"),
    ),
    DocType(
        code="birth_certificate",
        name_vi="Giấy khai sinh",
        name_en="Birth certificate",
        title_patterns=("GIẤY KHAI SINH",),
        fields=(
            "document_number",
            "full_name",
            "date_of_birth",
            "sex",
            "ethnicity",
            "nationality",
            "place_of_birth",
            "personal_id",
            "father_name",
            "mother_name",
            "issue_date",
        ),
        required=("full_name", "date_of_birth"),
    ),
    DocType(
        code="marriage_certificate",
        name_vi="Giấy chứng nhận kết hôn",
        name_en="Marriage certificate",
        title_patterns=("GIẤY CHỨNG NHẬN KẾT HÔN",),
        fields=(
            "document_number",
            "husband_name",
            "wife_name",
            "husband_id",
            "wife_id",
            "issue_date",
        ),
        required=("husband_name", "wife_name"),
    ),
    DocType(
        code="residence_confirmation",
        name_vi="Xác nhận thông tin về cư trú",
        name_en="Residence confirmation",
        title_patterns=("XÁC NHẬN THÔNG TIN VỀ CƯ TRÚ",),
        fields=("full_name", "date_of_birth", "personal_id", "permanent_residence", "issue_date"),
        required=("full_name", "personal_id"),
    ),
    DocType(
        code="household_register",
        name_vi="Sổ hộ khẩu",
        name_en="Household register",
        title_patterns=("SỔ HỘ KHẨU",),
        fields=("head_of_household", "members"),
        required=("head_of_household",),
    ),
    DocType(
        code="land_use_certificate",
        name_vi="Giấy chứng nhận quyền sử dụng đất",
        name_en="Land use right certificate",
        title_patterns=(
            "GIẤY CHỨNG NHẬN QUYỀN SỬ DỤNG ĐẤT",
            "QUYỀN SỞ HỮU NHÀ Ở VÀ TÀI SẢN KHÁC GẮN LIỀN VỚI ĐẤT",
            "QUYỀN SỬ DỤNG ĐẤT",
        ),
        fields=(
            "holder",
            "parcel_number",
            "map_sheet_number",
            "area_m2",
            "address",
            "serial",
            "issue_date",
        ),
        required=("parcel_number", "map_sheet_number"),
    ),
    DocType(
        code="business_registration",
        name_vi="Giấy chứng nhận đăng ký doanh nghiệp",
        name_en="Business registration certificate",
        title_patterns=(
            "GIẤY CHỨNG NHẬN ĐĂNG KÝ DOANH NGHIỆP",
            "ĐĂNG KÝ DOANH NGHIỆP",
        ),
        fields=(
            "enterprise_code",
            "company_name",
            "head_office",
            "charter_capital",
            "legal_representative",
            "issue_date",
        ),
        required=("enterprise_code", "company_name"),
    ),
    DocType(
        code="diploma",
        name_vi="Bằng tốt nghiệp",
        name_en="Diploma",
        title_patterns=("BẰNG TỐT NGHIỆP",),
        fields=("full_name", "date_of_birth", "serial", "register_number"),
        required=("full_name",),
    ),
    DocType(
        code="driving_licence",
        name_vi="Giấy phép lái xe",
        name_en="Driving licence",
        title_patterns=("GIẤY PHÉP LÁI XE", "DRIVER'S LICENSE"),
        fields=("document_number", "full_name", "date_of_birth", "class", "expiry_date"),
        required=("document_number", "full_name"),
    ),
    DocType(
        code="application_form",
        name_vi="Tờ khai, đơn đề nghị",
        name_en="Application form",
        title_patterns=("TỜ KHAI", "ĐƠN ĐỀ NGHỊ", "KÍNH GỬI"),
        fields=("full_name", "personal_id", "address", "issue_date"),
        required=("full_name",),
    ),
    DocType(
        code="unknown",
        name_vi="Không xác định",
        name_en="Unknown",
        title_patterns=(),
        fields=(),
        required=(),
    ),
)

DOC_TYPES: dict[str, DocType] = {t.code: t for t in _TYPES}
