"""Page images of a record, for the review page.

The operator checks a field against the paper it was read from: the archive copy
of each page (colour, straightened, the same geometry as the OCR, so a field's
`box` fractions land on it) as a thumbnail or at full size. Personal
data: scope `records:read_personal`, written to the audit log before they leave.
"""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from PIL import Image

from api.deps import Caller, ServicesDep, SessionDep, audit, error, need
from api.routes.records import find_record
from pipeline import errors
from workers.services import page_key

router = APIRouter(tags=["records"])

#: Longest side of a thumbnail: enough to recognise the paper in a strip of pages.
THUMB_PX = 240
GONE = {"description": "The stored file is gone."}
JPEG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}}, "description": "The page as JPEG."},
    410: GONE,
}


def _thumbnail(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (THUMB_PX * 2, THUMB_PX * 2))  # JPEG: decode at a fraction, fast
        small = im.convert("RGB")
        small.thumbnail((THUMB_PX, THUMB_PX))
        buf = io.BytesIO()
        small.save(buf, format="JPEG", quality=80)
        return buf.getvalue()


@router.get(
    "/api/v1/records/{record_code}/pages/{page}/image",
    response_class=Response,
    responses=JPEG,
)
def get_page_image(
    record_code: str,
    page: Annotated[int, Path(ge=1, le=100_000, description="Page number in the original.")],
    c: Annotated[Caller, Depends(need("records:read_personal"))],
    s: SessionDep,
    svc: ServicesDep,
    size: Annotated[Literal["thumb", "full"], Query()] = "full",
) -> Response:
    """One page of the record as it was archived (JPEG), full size or as a thumbnail.

    Field boxes in the record are fractions of this image's width and height."""
    row = find_record(s, record_code)
    if page not in (row.body.get("pages") or []):
        raise error(404, "not_found", "The record has no such page.")
    audit(s, c, f"record.page_image.{size}", row, detail=f"page={page}")
    try:
        data = svc.store.get(page_key(row.document_id, page, "archive.jpg"))
    except errors.ObjectMissing as exc:
        raise error(410, exc.code, "The stored page image is missing.") from exc
    except errors.SohoaError as exc:
        raise error(503, exc.code, exc.detail) from exc
    if size == "thumb":
        data = _thumbnail(data)
    # Personal data: the browser may keep it for the session's page views, no proxy may.
    return Response(
        content=data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=300"}
    )
