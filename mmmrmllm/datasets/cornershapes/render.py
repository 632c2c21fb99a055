"""Drawing CornerShapes images: shape masks, fills and backgrounds.

Everything is drawn from a ``numpy.random.Generator`` so that an image is a
pure function of its seed.
"""
import math
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image, ImageDraw

Colour = Tuple[int, int, int]

SHAPES = ('circle', 'square', 'triangle', 'star', 'cross')
COMMON_COLOURS: Dict[str, Colour] = {
    'red': (220, 45, 45),
    'green': (40, 165, 70),
    'blue': (45, 85, 215),
    'yellow': (235, 195, 35),
}
CORNER_COLOURS: Dict[str, Colour] = {
    'purple': (135, 60, 185),
    'orange': (245, 130, 30),
    'cyan': (40, 200, 210),
}
NOVEL_COLOURS: Dict[str, Colour] = {
    'pink': (245, 150, 195),
    'brown': (130, 85, 45),
    'black': (25, 25, 25),
}
ALL_COLOURS = {**COMMON_COLOURS, **CORNER_COLOURS, **NOVEL_COLOURS}
TEXTURES = ('stripes', 'checker', 'dots')
WHITE = 240


def _polygon(cx: float, cy: float, radii: List[float], angles: List[float],
             rotation: float) -> List[Tuple[float, float]]:
    rot = math.radians(rotation)
    return [(cx + r * math.cos(a + rot), cy + r * math.sin(a + rot))
            for r, a in zip(radii, angles)]


def shape_outline(shape: str, cx: float, cy: float, size: float,
                  rotation: float) -> List[Tuple[float, float]]:
    """Polygon of a shape ``size`` pixels across, centred at ``(cx, cy)``."""
    half = size / 2
    if shape == 'square':
        angles = [math.radians(a) for a in (45, 135, 225, 315)]
        return _polygon(cx, cy, [half * math.sqrt(2)] * 4, angles, rotation)
    if shape == 'triangle':
        # An equilateral triangle of side ``size``, centred on its centroid.
        radius = size / math.sqrt(3)
        angles = [math.radians(a) for a in (-90, 30, 150)]
        return _polygon(cx, cy + radius / 4, [radius] * 3, angles, rotation)
    if shape == 'star':
        angles = [math.radians(-90 + 36 * k) for k in range(10)]
        radii = [half if k % 2 == 0 else half * 0.45 for k in range(10)]
        return _polygon(cx, cy, radii, angles, rotation)
    if shape == 'cross':
        t = size / 6
        pts = [(-t, -half), (t, -half), (t, -t), (half, -t), (half, t),
               (t, t), (t, half), (-t, half), (-t, t), (-half, t),
               (-half, -t), (-t, -t)]
        rot = math.radians(rotation)
        cos, sin = math.cos(rot), math.sin(rot)
        return [(cx + x * cos - y * sin, cy + x * sin + y * cos)
                for x, y in pts]
    raise ValueError(f'unknown shape {shape!r}')


def shape_mask(shape: str, cx: float, cy: float, size: float,
               rotation: float, canvas: int, hollow: int = 0) -> np.ndarray:
    """Boolean ``(canvas, canvas)`` mask of one shape.

    Args:
        hollow (int): Outline width in pixels; 0 for a filled shape.
    """
    img = Image.new('L', (canvas, canvas), 0)
    draw = ImageDraw.Draw(img)
    if shape == 'circle':
        half = size / 2
        draw.ellipse([cx - half, cy - half, cx + half, cy + half], fill=255)
    else:
        draw.polygon(shape_outline(shape, cx, cy, size, rotation), fill=255)
    mask = np.asarray(img) > 0
    if hollow:
        inner = mask.copy()
        for _ in range(hollow):
            inner[1:, :] &= inner[:-1, :].copy()
            inner[:-1, :] &= inner[1:, :].copy()
            inner[:, 1:] &= inner[:, :-1].copy()
            inner[:, :-1] &= inner[:, 1:].copy()
        mask = mask & ~inner
    return mask


def fill_pattern(fill: str, colour: Colour, canvas: int,
                 box: Tuple[int, int, int, int]) -> np.ndarray:
    """An ``(canvas, canvas, 3)`` uint8 RGB fill for one object.

    Args:
        fill (str): ``solid``, ``stripes``, ``checker``, ``dots`` or
            ``gradient``.
        box (tuple): The object's ``(x1, y1, x2, y2)``, for the gradient.
    """
    rgb = np.array(colour, dtype=np.float32)
    ys, xs = np.mgrid[0:canvas, 0:canvas]
    if fill == 'solid':
        on = np.ones((canvas, canvas), bool)
    elif fill == 'stripes':
        on = ((xs + ys) // 4) % 2 == 0
    elif fill == 'checker':
        on = ((xs // 5) + (ys // 5)) % 2 == 0
    elif fill == 'dots':
        on = ((xs % 6) < 3) & ((ys % 6) < 3)
    elif fill == 'gradient':
        x1, _, x2, _ = box
        t = np.clip((xs - x1) / max(x2 - x1, 1), 0, 1)[..., None]
        return (rgb * (1.0 - 0.55 * t)).astype(np.uint8)
    else:
        raise ValueError(f'unknown fill {fill!r}')
    out = np.where(on[..., None], rgb, np.float32(WHITE))
    return out.astype(np.uint8)


def background(kind: str, canvas: int,
               rng: np.random.Generator) -> np.ndarray:
    """An ``(canvas, canvas, 3)`` uint8 RGB background.

    Args:
        kind (str): ``plain`` (uniform light grey, the common scene),
            ``clutter`` (darker grey with random lines and noise, a corner
            scene) or ``gradient`` (two-colour gradient, the novel scene).
    """
    if kind == 'plain':
        grey = rng.integers(205, 236)
        tint = rng.integers(-5, 6, size=3)
        return np.broadcast_to(
            np.clip(grey + tint, 0, 255).astype(np.uint8),
            (canvas, canvas, 3)).copy()
    if kind == 'clutter':
        grey = int(rng.integers(120, 221))
        img = Image.new('RGB', (canvas, canvas), (grey, grey, grey))
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(8, 21))):
            pts = rng.uniform(0, canvas, size=4).tolist()
            shade = tuple(int(v) for v in rng.integers(60, 200, size=3))
            draw.line(pts, fill=shade, width=int(rng.integers(1, 3)))
        arr = np.asarray(img).astype(np.float32)
        arr += rng.normal(0, 12, size=arr.shape)
        return np.clip(arr, 0, 255).astype(np.uint8)
    if kind == 'gradient':
        top = rng.integers(150, 256, size=3).astype(np.float32)
        bottom = rng.integers(150, 256, size=3).astype(np.float32)
        t = np.linspace(0, 1, canvas, dtype=np.float32)[:, None, None]
        arr = top * (1 - t) + bottom * t
        arr = np.broadcast_to(arr, (canvas, canvas, 3)).copy()
        arr += rng.normal(0, 6, size=arr.shape)
        return np.clip(arr, 0, 255).astype(np.uint8)
    raise ValueError(f'unknown background {kind!r}')


def mask_box(mask: np.ndarray) -> Tuple[int, int, int, int]:
    """Tight ``(x1, y1, x2, y2)`` box of a mask (x2/y2 exclusive)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
