"""Realistic damage for synthetic scans: what real counters receive.

A rendered page is perfect; real pages arrive skewed, sideways, noisy, blurred,
unevenly lit, stamped over, photocopied, photographed on a desk, at low
resolution or as heavy JPEGs. Each kind here imitates one of those, drawing all
its parameters from the given ``random.Random`` so that a corpus is
reproducible. Every function returns an RGB image and its true dpi (only
``low_dpi`` changes it).
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

DEGRADATIONS: tuple[str, ...] = (
    "clean",
    "skew",
    "quarter_turn",
    "noise",
    "blur",
    "uneven_light",
    "stamp",
    "photocopy",
    "phone_photo",
    "low_dpi",
    "jpeg",
)

_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
_STAMP_TEXTS = (
    "ỦY BAN NHÂN DÂN PHƯỜNG HÀNG BẠC",
    "ỦY BAN NHÂN DÂN XÃ HƯNG ĐẠO",
    "PHÒNG TƯ PHÁP QUẬN HOÀN KIẾM",
    "CÔNG AN TỈNH THÁI NGUYÊN",
)


def _np_rng(rng: random.Random) -> np.random.Generator:
    """A numpy generator seeded from ``rng`` so the whole chain stays deterministic."""
    return np.random.default_rng(rng.getrandbits(64))


def _rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")


def _from_array(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")


def _clean(image: Image.Image, rng: random.Random, dpi: int) -> tuple[Image.Image, int]:
    return image.copy(), dpi


def _skew(image: Image.Image, rng: random.Random, dpi: int) -> tuple[Image.Image, int]:
    """A page fed crooked: 2-12 degrees either way, on the scanner's white lid."""
    angle = rng.uniform(2.0, 12.0) * rng.choice((-1, 1))
    return image.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor="white"), dpi


def _quarter_turn(image: Image.Image, rng: random.Random, dpi: int) -> tuple[Image.Image, int]:
    """Fed sideways or upside down: 90, 180 or 270 degrees clockwise."""
    degrees = rng.choice((90, 180, 270))
    return image.rotate(-degrees, expand=True, fillcolor="white"), dpi


def _noise(image: Image.Image, rng: random.Random, dpi: int) -> tuple[Image.Image, int]:
    """Sensor noise: gaussian, sigma 10-30, mostly luminance with a little colour."""
    sigma = rng.uniform(10.0, 30.0)
    gen = _np_rng(rng)
    a = np.asarray(image, dtype=np.float32)
    h, w = a.shape[:2]
    luma = gen.normal(0.0, sigma, (h, w, 1)).astype(np.float32)
    chroma = gen.normal(0.0, sigma * 0.25, (h, w, 3)).astype(np.float32)
    return _from_array(a + luma + chroma), dpi


def _blur(image: Image.Image, rng: random.Random, dpi: int) -> tuple[Image.Image, int]:
    """Out of focus but readable: gaussian radius 0.8-1.6 px (at 300 dpi scale)."""
    radius = rng.uniform(0.8, 1.6) * dpi / 300
    return image.filter(ImageFilter.GaussianBlur(radius)), dpi


def _shading(h: int, w: int, rng: random.Random, depth: float) -> np.ndarray:
    """A smooth light field in 1-depth..1: a linear gradient times an off-centre vignette."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy /= max(h - 1, 1)
    xx /= max(w - 1, 1)
    theta = rng.uniform(0, 2 * math.pi)
    ramp = (xx - 0.5) * math.cos(theta) + (yy - 0.5) * math.sin(theta)
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
    cx, cy = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)
    r2 = (xx - cx) ** 2 + (yy - cy) ** 2
    vignette = r2 / max(float(r2.max()), 1e-6)
    mix = rng.uniform(0.3, 0.7)
    dark = mix * ramp + (1 - mix) * vignette
    return 1.0 - depth * dark


def _uneven_light(image: Image.Image, rng: random.Random, dpi: int) -> tuple[Image.Image, int]:
    """A lamp to one side: the far corner down to 45-70 % of the paper's brightness."""
    a = np.asarray(image, dtype=np.float32)
    light = _shading(a.shape[0], a.shape[1], rng, rng.uniform(0.3, 0.55))
    tint = np.array([1.0, rng.uniform(0.96, 1.0), rng.uniform(0.88, 0.97)], np.float32)
    return _from_array(a * light[..., None] * tint), dpi


def _ring_text(
    overlay: Image.Image,
    centre: tuple[float, float],
    radius: float,
    text: str,
    font: ImageFont.FreeTypeFont,
    colour: tuple[int, int, int, int],
) -> None:
    """Letters around the upper part of a circle, each upright to its tangent."""
    span = math.radians(300)
    step = span / max(len(text), 1)
    start = -math.pi / 2 - span / 2 + step / 2
    size = int(font.size * 1.6)
    for i, ch in enumerate(text):
        if ch == " ":
            continue
        angle = start + i * step
        glyph = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((size / 2, size / 2), ch, font=font, fill=colour, anchor="mm")
        glyph = glyph.rotate(-math.degrees(angle + math.pi / 2), Image.Resampling.BICUBIC)
        x = centre[0] + radius * math.cos(angle) - size / 2
        y = centre[1] + radius * math.sin(angle) - size / 2
        overlay.alpha_composite(glyph, (max(0, int(x)), max(0, int(y))))


def _stamp(image: Image.Image, rng: random.Random, dpi: int) -> tuple[Image.Image, int]:
    """A red agency seal (double ring, text, star) and a blue signature over the text."""
    base = _rgb(image).convert("RGBA")
    w, h = base.size
    overlay = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    px_mm = dpi / 25.4
    radius = rng.uniform(16, 20) * px_mm
    radius = min(radius, 0.3 * min(w, h))
    # Seals go over the signing block: the lower part of the printed area, right of centre.
    ink = np.argwhere(np.asarray(base.convert("L")) < 128)
    top, left = ink.min(axis=0) if len(ink) else (0, 0)
    bottom, right = ink.max(axis=0) if len(ink) else (h, w)
    cx = left + rng.uniform(0.5, 0.85) * (right - left)
    cy = top + rng.uniform(0.6, 0.95) * (bottom - top)
    alpha = rng.randrange(150, 210)
    red = (rng.randrange(190, 230), rng.randrange(20, 60), rng.randrange(30, 70), alpha)
    line_w = max(2, round(0.6 * px_mm))
    for r in (radius, radius * 0.72):
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=red, width=line_w)
    font = ImageFont.truetype(str(_FONT), max(8, round(radius * 0.16)))
    _ring_text(overlay, (cx, cy), radius * 0.86, rng.choice(_STAMP_TEXTS), font, red)
    star = []
    for k in range(10):
        r = radius * (0.3 if k % 2 == 0 else 0.12)
        a = -math.pi / 2 + k * math.pi / 5
        star.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    draw.polygon(star, fill=red)
    # A signature: a few loops along a wavy baseline, crossing the seal and the text above it.
    blue = (rng.randrange(10, 50), rng.randrange(30, 80), rng.randrange(150, 210), 230)
    sx = cx - rng.uniform(0.8, 1.4) * radius
    sy = cy - rng.uniform(0.2, 0.7) * radius
    length = rng.uniform(1.8, 2.6) * radius
    loops = rng.randrange(3, 6)
    points = []
    for i in range(120):
        t = i / 119
        x = sx + length * t + 0.12 * radius * math.sin(2 * math.pi * loops * t)
        y = (
            sy
            - 0.25 * radius * math.sin(math.pi * t * 1.3)
            - 0.18 * radius * math.cos(2 * math.pi * loops * t)
        )
        points.append((x, y))
    draw.line(points, fill=blue, width=max(2, round(0.4 * px_mm)), joint="curve")
    # Ink sits on paper: multiply rather than paint over, so the text stays dark underneath.
    over = np.asarray(overlay, dtype=np.float32)
    paper = np.asarray(base, dtype=np.float32)[..., :3]
    cover = over[..., 3:4] / 255.0
    mixed = paper * (1 - cover) + np.minimum(paper, over[..., :3]) * cover
    return _from_array(mixed), dpi


def _photocopy(image: Image.Image, rng: random.Random, dpi: int) -> tuple[Image.Image, int]:
    """A copy of a copy: grey, duller, speckled, with black bands from the lid's edge."""
    gen = _np_rng(rng)
    g = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    paper = rng.uniform(0.72, 0.86)
    ink = rng.uniform(0.08, 0.2)
    g = ink + (paper - ink) * g
    h, w = g.shape
    g += gen.normal(0.0, 0.03, g.shape).astype(np.float32)
    # Toner speckle: sparse dark dots of one to a few pixels.
    dots = gen.random((h, w)) < rng.uniform(0.0008, 0.002)
    size = max(1, round(dpi / 150))
    dots_img = cv2.dilate(dots.astype(np.uint8), np.ones((size, size), np.uint8))
    g = np.where(dots_img > 0, gen.uniform(0.05, 0.35, g.shape).astype(np.float32), g)
    band = max(3, round(rng.uniform(0.008, 0.025) * min(h, w)))
    for edge in rng.sample(("top", "bottom", "left", "right"), rng.randrange(1, 3)):
        tone = rng.uniform(0.03, 0.15)
        if edge == "top":
            g[:band] = tone
        elif edge == "bottom":
            g[-band:] = tone
        elif edge == "left":
            g[:, :band] = tone
        else:
            g[:, -band:] = tone
    out = (np.clip(g, 0, 1) * 255).astype(np.uint8)
    return Image.fromarray(out, "L").convert("RGB"), dpi


def _desk(h: int, w: int, rng: random.Random, gen: np.random.Generator) -> np.ndarray:
    """A darker wood- or cloth-like surface: a base colour with blurred streaky texture."""
    base = np.array(
        rng.choice(((95, 70, 50), (70, 70, 75), (120, 95, 70), (50, 55, 60))), np.float32
    )
    noise = gen.normal(0, 1, (h // 4 + 1, w // 4 + 1)).astype(np.float32)
    streaks = cv2.GaussianBlur(noise, (0, 0), sigmaX=6, sigmaY=1)
    fine = np.asarray(cv2.resize(streaks, (w, h), interpolation=cv2.INTER_LINEAR), np.float32)
    fine /= max(float(np.abs(fine).max()), 1e-6)
    return base[None, None, :] * (1 + 0.25 * fine[..., None])


def _phone_photo(image: Image.Image, rng: random.Random, dpi: int) -> tuple[Image.Image, int]:
    """The page on a desk, shot at an angle: perspective, margin of desk, blur, shading."""
    gen = _np_rng(rng)
    page = np.asarray(_rgb(image), dtype=np.float32)
    ph, pw = page.shape[:2]
    pad_x = round(pw * rng.uniform(0.08, 0.15))
    pad_y = round(ph * rng.uniform(0.08, 0.15))
    h, w = ph + 2 * pad_y, pw + 2 * pad_x
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    dst = src + np.array([pad_x, pad_y], np.float32)
    for i in range(4):
        dst[i, 0] += rng.choice((-1, 1)) * rng.uniform(0.03, 0.08) * pw
        dst[i, 1] += rng.choice((-1, 1)) * rng.uniform(0.03, 0.08) * ph
    dst[:, 0] = np.clip(dst[:, 0], 2, w - 3)
    dst[:, 1] = np.clip(dst[:, 1], 2, h - 3)
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(page, matrix, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(
        np.ones((ph, pw), np.float32), matrix, (w, h), flags=cv2.INTER_LINEAR
    )
    out = _desk(h, w, rng, gen) * (1 - mask[..., None]) + warped * mask[..., None]
    out *= _shading(h, w, rng, rng.uniform(0.1, 0.3))[..., None]
    sigma = rng.uniform(0.5, 0.9) * dpi / 300
    out = cv2.GaussianBlur(out, (0, 0), sigmaX=sigma)
    out = out + gen.normal(0, 3.0, out.shape)
    return _from_array(out), dpi


def _low_dpi(image: Image.Image, rng: random.Random, dpi: int) -> tuple[Image.Image, int]:
    """Scanned at 150-200 dpi: fewer pixels per glyph; the true dpi is returned."""
    target = rng.randrange(150, 201)
    if target >= dpi:
        return image.copy(), dpi
    scale = target / dpi
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS), target


def _jpeg(image: Image.Image, rng: random.Random, dpi: int) -> tuple[Image.Image, int]:
    """Saved as a heavy JPEG, quality 25-45, with its blocks and ringing."""
    buffer = io.BytesIO()
    _rgb(image).save(buffer, "JPEG", quality=rng.randrange(25, 46))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB"), dpi


_KINDS: dict[str, Callable[[Image.Image, random.Random, int], tuple[Image.Image, int]]] = {
    "clean": _clean,
    "skew": _skew,
    "quarter_turn": _quarter_turn,
    "noise": _noise,
    "blur": _blur,
    "uneven_light": _uneven_light,
    "stamp": _stamp,
    "photocopy": _photocopy,
    "phone_photo": _phone_photo,
    "low_dpi": _low_dpi,
    "jpeg": _jpeg,
}


def degrade(image: Image.Image, kind: str, rng: random.Random, dpi: int) -> tuple[Image.Image, int]:
    """Apply one kind of damage; returns the RGB image (dpi in ``info``) and its true dpi."""
    if kind not in _KINDS:
        raise ValueError(f"unknown degradation {kind!r}; one of {DEGRADATIONS}")
    out, out_dpi = _KINDS[kind](_rgb(image), rng, dpi)
    out = _rgb(out)
    out.info["dpi"] = (out_dpi, out_dpi)
    return out, out_dpi


def degrade_chain(
    image: Image.Image, kinds: Iterable[str], rng: random.Random, dpi: int
) -> tuple[Image.Image, int]:
    """Apply several kinds in order (e.g. stamp, then phone_photo, then jpeg)."""
    out, out_dpi = _rgb(image), dpi
    for kind in kinds:
        out, out_dpi = degrade(out, kind, rng, out_dpi)
    out.info["dpi"] = (out_dpi, out_dpi)
    return out, out_dpi
