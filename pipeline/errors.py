"""The closed set of errors sohoa reports, each with a stable machine code.

The code is the contract: it is the CLI's JSON ``error.code``, the API's error
body, the quarantine reason and the metrics label. Messages are for humans and
never contain personal data.
"""

from __future__ import annotations


class SohoaError(Exception):
    """Base of every error sohoa reports; never raised itself."""

    code: str = "internal_error"
    message: str = "Internal error"
    #: A permanent error is a property of the input: retrying cannot help.
    permanent: bool = True
    exit_status: int = 2

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.message
        super().__init__(self.detail)

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.detail}


class InputRejected(SohoaError):
    """The file itself cannot be digitised."""


class EmptyFile(InputRejected):
    code = "empty_file"
    message = "The file is empty."


class UnsupportedType(InputRejected):
    code = "unsupported_type"
    message = "Not a PDF, PNG, JPEG or TIFF scan."


class CorruptPdf(InputRejected):
    code = "corrupt_pdf"
    message = "The PDF is damaged and cannot be read."


class TruncatedPdf(InputRejected):
    code = "truncated_pdf"
    message = "The PDF is cut short (no end-of-file marker); the scan was not fully written."


class EncryptedPdf(InputRejected):
    code = "encrypted_pdf"
    message = "The PDF is password-protected."


class UnreadableImage(InputRejected):
    code = "unreadable_image"
    message = "The image is damaged and cannot be decoded."


class FileTooLarge(InputRejected):
    code = "file_too_large"
    message = "The file is larger than the configured limit."


class TooManyPages(InputRejected):
    code = "too_many_pages"
    message = "The file has more pages than the configured limit."


class ImageTooLarge(InputRejected):
    code = "image_too_large"
    message = "A page has more pixels than the configured limit."


class InvalidDossierCode(InputRejected):
    code = "invalid_dossier_code"
    message = "Dossier codes look like 000.00.00.H55-230415-0001."


class InvalidTransition(SohoaError):
    code = "invalid_transition"
    message = "The record's state does not allow this action."


class NotReusable(SohoaError):
    code = "not_reusable"
    message = "The record is not published, is superseded or is not valid on that day."


class OcrFailed(SohoaError):
    code = "ocr_failed"
    message = "The OCR engine failed on a page."
    permanent = False
    exit_status = 7


class PageTimeout(SohoaError):
    code = "page_timeout"
    message = "A page took longer than the configured limit."


class PoisonPage(SohoaError):
    code = "poison_page"
    message = "A page crashed its worker repeatedly and was quarantined."


class StorageUnavailable(SohoaError):
    code = "storage_unavailable"
    message = "The object store cannot be reached."
    permanent = False
    exit_status = 3


class ObjectMissing(SohoaError):
    code = "object_missing"
    message = "An object expected in the store is missing."


class DatabaseUnavailable(SohoaError):
    code = "database_unavailable"
    message = "The database cannot be reached."
    permanent = False
    exit_status = 3


ALL_ERRORS: tuple[type[SohoaError], ...] = (
    EmptyFile,
    UnsupportedType,
    CorruptPdf,
    TruncatedPdf,
    EncryptedPdf,
    UnreadableImage,
    FileTooLarge,
    TooManyPages,
    ImageTooLarge,
    InvalidDossierCode,
    InvalidTransition,
    NotReusable,
    OcrFailed,
    PageTimeout,
    PoisonPage,
    StorageUnavailable,
    ObjectMissing,
    DatabaseUnavailable,
)

ERROR_CODES: frozenset[str] = frozenset(e.code for e in ALL_ERRORS)
