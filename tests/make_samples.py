"""Render the sample scans shipped in samples/ (`make samples`); the seed is fixed."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image

from tests.synth import render_page, rotate, sample_fields


def _pdf(images: list[Image.Image], dpi: int) -> bytes:
    buf = io.BytesIO()
    rgb = [im.convert("RGB") for im in images]
    rgb[0].save(
        buf, format="PDF", save_all=True, append_images=rgb[1:], resolution=float(dpi), quality=85
    )
    return buf.getvalue()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    card = sample_fields("citizen_id_card", 7)
    front, _ = render_page("citizen_id_card", card, dpi=300, seed=7)
    back, _ = render_page("citizen_id_card_back", card, dpi=300, seed=7)
    (out / "01-can-cuoc-cong-dan.pdf").write_bytes(_pdf([front, back], 300))

    birth = sample_fields("birth_certificate", 11)
    page, _ = render_page("birth_certificate", birth, dpi=200, seed=11)
    page.convert("L").save(out / "02-giay-khai-sinh.png", dpi=(200, 200), optimize=True)

    form = sample_fields("application_form", 12)
    land = sample_fields("land_use_certificate", 13)
    pages = [
        render_page("application_form", form, dpi=200, seed=12)[0],
        render_page("land_use_certificate", land, dpi=200, seed=13)[0],
    ]
    (out / "03-ho-so-nhieu-giay-to.pdf").write_bytes(_pdf(pages, 200))

    card2 = sample_fields("citizen_id_card", 21)
    upside_down = rotate(render_page("citizen_id_card", card2, dpi=300, seed=21)[0], 180)
    upside_down.save(out / "04-can-cuoc-lon-nguoc.jpg", dpi=(300, 300), quality=88)

    (out / "05-khong-phai-pdf.pdf").write_text(
        "Tệp này không phải là bản quét: sohoa từ chối nó với mã unsupported_type.\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "samples"))
