"""CornerShapes scenes: objects sampled, placed and drawn.

A scene's objects have a *common* look (plain fills of a fixed palette),
a *corner* one (textures, unseen colours, extreme sizes, heavy occlusion)
or a *novel* one (hollow outlines, gradient fills, rotations, novel
colours); :func:`image_objects` places them on a canvas without hiding
each other too much and :func:`render_objects` draws them.
"""
from typing import List, Optional, Sequence

import numpy as np

from .render import (
    ALL_COLOURS,
    COMMON_COLOURS,
    CORNER_COLOURS,
    NOVEL_COLOURS,
    TEXTURES,
    background,
    fill_pattern,
    mask_box,
    shape_mask,
)

CLASSES = ('circle', 'square', 'triangle')
CORNER_ATTRIBUTES = ('texture', 'unseen_colour', 'tiny', 'huge', 'occluded')
NOVEL_ATTRIBUTES = ('hollow', 'gradient', 'novel_colour', 'rotated')


class SceneObject:
    """One object being placed: its look, its masks and its box.

    ``mask`` (its pixels), ``visible`` (those not covered by later objects)
    and ``box`` (xyxy, of the visible pixels) are set when it is placed.
    """

    def __init__(self, shape, colour, size, fill, rotation, hollow,
                 appearance, attributes):
        self.shape = shape
        self.colour = colour
        self.size = size
        self.fill = fill
        self.rotation = rotation
        self.hollow = hollow
        self.appearance = appearance
        self.attributes = attributes
        self.mask = None
        self.visible = None
        self.box = None

    @property
    def centre(self):
        x1, y1, x2, y2 = self.box
        return (x1 + x2) / 2, (y1 + y2) / 2


def sample_object(rng, appearance: str, classes: Sequence[str],
                  scale: float) -> SceneObject:
    """An object's shape, colour, size and look, not yet placed.

    Args:
        rng (np.random.Generator): Random source.
        appearance (str): ``'common'``, ``'corner'`` or ``'novel'``.
        classes (Sequence[str]): Shapes to choose from.
        scale (float): Canvas side / 128 (sizes are for 128 px).

    Returns:
        SceneObject: Without mask or box.
    """
    shape = str(rng.choice(classes))
    colours = COMMON_COLOURS
    size = rng.uniform(24, 48)
    fill, rotation, hollow = 'solid', 0.0, 0
    attributes: List[str] = []
    if appearance == 'corner':
        num = 1 if rng.random() < 0.7 else 2
        attributes = [
            str(a) for a in rng.choice(CORNER_ATTRIBUTES, num, replace=False)
        ]
        if 'tiny' in attributes and 'huge' in attributes:
            attributes.remove('huge')
        if 'texture' in attributes:
            fill = str(rng.choice(TEXTURES))
        if 'unseen_colour' in attributes:
            colours = CORNER_COLOURS
        if 'tiny' in attributes:
            size = rng.uniform(10, 15)
        if 'huge' in attributes:
            size = rng.uniform(62, 84)
    elif appearance == 'novel':
        choices = [a for a in NOVEL_ATTRIBUTES
                   if not (a == 'rotated' and shape == 'circle')]
        num = 1 if rng.random() < 0.6 else 2
        attributes = [str(a) for a in rng.choice(choices, num, replace=False)]
        if 'hollow' in attributes and 'gradient' in attributes:
            attributes.remove('gradient')
        if 'hollow' in attributes:
            hollow = 3
        if 'gradient' in attributes:
            fill = 'gradient'
        if 'novel_colour' in attributes:
            colours = NOVEL_COLOURS
        if 'rotated' in attributes:
            rotation = rng.uniform(20, 70)
    colour = str(rng.choice(list(colours)))
    return SceneObject(shape, colour, size * scale, fill, rotation, hollow,
                       appearance, sorted(attributes))


def _visible_fractions(objs: List[SceneObject]) -> List[float]:
    """Visible mask of each object (later objects are drawn on top)."""
    covered = np.zeros_like(objs[0].mask)
    fractions = [0.0] * len(objs)
    for k in range(len(objs) - 1, -1, -1):
        obj = objs[k]
        obj.visible = obj.mask & ~covered
        fractions[k] = obj.visible.sum() / max(obj.mask.sum(), 1)
        covered |= obj.mask
    return fractions


def _touches_same_colour(objs: List[SceneObject], obj: SceneObject) -> bool:
    """Whether ``obj`` would touch an object of its colour (they would
    read as one blob)."""
    x1, y1, x2, y2 = mask_box(obj.mask)
    for other in objs:
        if other.colour != obj.colour:
            continue
        ox1, oy1, ox2, oy2 = mask_box(other.mask)
        if x1 < ox2 + 2 and ox1 < x2 + 2 and y1 < oy2 + 2 and oy1 < y2 + 2:
            return True
    return False


def _place(rng, objs: List[SceneObject], obj: SceneObject, canvas: int,
           min_visible, near: Optional[SceneObject] = None, target=None,
           tries: int = 40) -> bool:
    """Put ``obj`` on top of ``objs`` without hiding them too much.

    Args:
        min_visible (float): Least visible fraction of every other object.
        near (SceneObject, optional): Place ``obj`` over this object so
            that its visible fraction falls in ``target`` (heavy
            occlusion).
    """
    half = obj.size / 2 + 1
    lo, hi = half, canvas - half
    if hi <= lo:
        return False
    for _ in range(tries):
        if near is None:
            cx, cy = rng.uniform(lo, hi, size=2)
        else:
            ncx, ncy = near.centre
            angle = rng.uniform(0, 2 * np.pi)
            dist = rng.uniform(0.3, 0.8) * (near.size + obj.size) / 2
            cx = float(np.clip(ncx + dist * np.cos(angle), lo, hi))
            cy = float(np.clip(ncy + dist * np.sin(angle), lo, hi))
        obj.mask = shape_mask(obj.shape, cx, cy, obj.size, obj.rotation,
                              canvas, obj.hollow)
        if obj.mask.sum() < 20 or _touches_same_colour(objs, obj):
            continue
        trial = objs + [obj]
        fractions = _visible_fractions(trial)
        ok = all(f >= min_visible for o, f in zip(objs, fractions)
                 if o is not near)
        if near is not None:
            f = fractions[objs.index(near)]
            ok = ok and target[0] <= f <= target[1]
        if ok:
            objs.append(obj)
            return True
    return False


def image_objects(rng, family: str, classes: Sequence[str], canvas: int):
    """Objects of one image and its background kind.

    Args:
        rng (np.random.Generator): Random source.
        family (str): ``'common'``, ``'corner'`` or ``'novel'``.
        classes (Sequence[str]): Shapes to choose from.
        canvas (int): Image side in pixels.

    Returns:
        tuple[list[SceneObject], str]: Placed objects (with ``box`` and
        ``visible`` mask) and the background kind.
    """
    scale = canvas / 128.0
    if family == 'common':
        bg, min_visible, num = 'plain', 0.7, int(rng.integers(1, 5))
        looks = ['common'] * num
    elif family == 'corner':
        bg = 'clutter' if rng.random() < 0.5 else 'plain'
        min_visible, num = 0.6, int(rng.integers(2, 6))
        looks = ['corner' if rng.random() < 0.6 else 'common'
                 for _ in range(num)]
        looks[int(rng.integers(num))] = 'corner'
    elif family == 'novel':
        bg, min_visible, num = 'gradient', 0.7, int(rng.integers(1, 5))
        looks = ['novel' if rng.random() < 0.6 else 'common'
                 for _ in range(num)]
        looks[int(rng.integers(num))] = 'novel'
    else:
        raise ValueError(f'unknown family {family!r}')
    objs: List[SceneObject] = []
    for look in looks:
        obj = sample_object(rng, look, classes, scale)
        if not _place(rng, objs, obj, canvas, min_visible):
            continue
        if 'occluded' in obj.attributes:
            _visible_fractions(objs)
            obj.box = mask_box(obj.visible)
            occluder = sample_object(rng, 'common', classes, scale)
            if not _place(rng, objs, occluder, canvas, min_visible,
                          near=obj, target=(0.3, 0.65)):
                obj.attributes.remove('occluded')
    if not objs:
        obj = sample_object(rng, looks[0], classes, scale)
        obj.size = min(obj.size, canvas * 0.4)
        _place(rng, objs, obj, canvas, 0.0, tries=200)
    _visible_fractions(objs)
    for obj in objs:
        obj.box = mask_box(obj.visible)
    return objs, bg


def render_objects(objs: List[SceneObject], bg: str, canvas: int,
                   rng) -> np.ndarray:
    """Draw ``objs`` (in order, later ones on top) on a background.

    Args:
        objs (list[SceneObject]): Placed objects.
        bg (str): Background kind (``plain``, ``clutter``, ``gradient``).
        canvas (int): Image side in pixels.
        rng (np.random.Generator): Random source of the background.

    Returns:
        np.ndarray: ``(canvas, canvas, 3)`` uint8 RGB.
    """
    img = background(bg, canvas, rng)
    for obj in objs:
        rgb = fill_pattern(obj.fill, ALL_COLOURS[obj.colour], canvas,
                           mask_box(obj.mask))
        img[obj.mask] = rgb[obj.mask]
    return img

