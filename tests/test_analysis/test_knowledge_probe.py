"""The knowledge probe: box pooling, the linear probe, and the whole probe
on a stand-in world whose 'MLLM' sees corner looks and whose 'detector'
does not."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmmrmllm.analysis.knowledge_probe import (
    LinearProbe,
    knowledge_probe,
    object_features,
    pool_boxes,
)

CLASSES = ('circle', 'square', 'triangle')


def test_pool_boxes_averages_the_cells_the_box_touches():
    feat = torch.arange(2 * 8 * 8, dtype=torch.float).reshape(2, 8, 8)
    boxes = torch.tensor([
        [4., 8., 12., 16.],  # stride 4: cols 1-2, rows 2-3
        [5., 5., 6., 6.],  # inside cell (1, 1)
        [20., 0., 40., 3.],  # cols 5-7 (clipped), row 0
        [8., 8., 8., 8.],  # no area: still cell (2, 2)
    ])
    out = pool_boxes(feat, boxes, (0.25, 0.25))
    assert out.shape == (4, 2)
    torch.testing.assert_close(out[0], feat[:, 2:4, 1:3].mean((1, 2)))
    torch.testing.assert_close(out[1], feat[:, 1, 1])
    torch.testing.assert_close(out[2], feat[:, 0:1, 5:8].mean((1, 2)))
    torch.testing.assert_close(out[3], feat[:, 2, 2])
    # x and y scales apply to their own axes
    out = pool_boxes(feat, boxes[:1], (0.5, 0.25))
    torch.testing.assert_close(out[0], feat[:, 2:4, 2:6].mean((1, 2)))
    assert pool_boxes(feat, torch.zeros(0, 4), (1., 1.)).shape == (0, 2)


def test_linear_probe_reads_separable_features_not_noise():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (300, ), generator=g)
    signal = F.one_hot(y, 3).double() + 0.3 * torch.randn(
        300, 3, generator=g, dtype=torch.float64)
    extra = torch.randn(300, 5, generator=g, dtype=torch.float64) * 50
    x = torch.cat([signal, extra], 1)
    noise = torch.randn(300, 8, generator=g, dtype=torch.float64)
    good = LinearProbe().fit(x[:200], y[:200], 3).predict(x[200:])
    bad = LinearProbe().fit(noise[:200], y[:200], 3).predict(noise[200:])
    assert (good == y[200:]).double().mean() > 0.95
    assert (bad == y[200:]).double().mean() < 0.5
    # deterministic
    again = LinearProbe().fit(x[:200], y[:200], 3).predict(x[200:])
    assert torch.equal(good, again)


def cell_centres(b, h, w, stride):
    """(b, 2, h, w): each cell's centre (x, y) in input pixels."""
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    return (torch.stack([xs, ys]).float() + 0.5).mul(stride).expand(
        b, 2, h, w)


class PositionDetector(nn.Module):
    """Levels at strides 8 and 16 holding their cells' centres."""

    def extract_feat(self, x):
        b, _, h, w = x.shape
        return tuple(cell_centres(b, h // s, w // s, s) for s in (8, 16))


class PositionEncoder(nn.Module):
    """A (-100, -100) prefix token, then the patches' centres."""
    patch_size = 8

    def forward(self, images):
        from mmmrmllm.models.vision_encoders.base import VisualTokens
        b, _, h, w = images.shape
        tok = cell_centres(b, h // 8, w // 8, 8).flatten(2).transpose(1, 2)
        prefix = torch.full_like(tok[:, :1], -100.)
        return VisualTokens(
            torch.cat([prefix, tok], 1), 1, (h // 8, w // 8))


def test_object_features_pool_each_view_in_its_own_cells():
    from mmdet.models.data_preprocessors import DetDataPreprocessor

    from mmmrmllm.models.data_preprocessors import MRMLLMDataPreprocessor
    model = nn.Module()
    # detector view 64 px (scale 0.5), padded to 96; encoder view 64 px
    model.data_preprocessor = MRMLLMDataPreprocessor(det=dict(
        type=DetDataPreprocessor, pad_size_divisor=48))
    model.detector = PositionDetector()
    model.vision_encoder = PositionEncoder()
    images = [np.zeros((128, 128, 3), np.uint8)] * 2
    boxes = [np.array([[32., 64., 64., 96.]]),
             np.array([[0., 0., 32., 32.], [96., 96., 128., 128.]])]
    out = object_features(model, images, boxes, enc_scale=(64, 64),
                          det_scale=(64, 64), batch_size=2)
    # boxes at half size: (16, 32, 32, 48), (0, 0, 16, 16), (48, 48, 64, 64)
    centres = torch.tensor([[24., 40.], [8., 8.], [56., 56.]])
    torch.testing.assert_close(out['detector'], centres)
    torch.testing.assert_close(out['mllm'], centres)
    model.detector = None
    out = object_features(model, images, boxes, det_scale=(64, 64))
    assert out['detector'] is None and out['mllm'].shape == (3, 2)


# ------------------------------------------------------ stand-in world
def fake_generate_image(seed, split, index, classes=CLASSES, img_size=128):
    """Two squares per image (top right, bottom left); class = colour.

    Common look: the class's channel 200, the others 0. Corner look: the
    class's channel 255, the others 150 (pale: over 128 in every channel).
    ``vqa_train`` images are common or corner, ``val`` common; in
    ``corner`` the top-right object has the corner look.
    """
    rng = np.random.default_rng(
        [seed, ('vqa_train', 'val', 'corner').index(split), index])
    image = np.zeros((img_size, img_size, 3), np.uint8)
    corner_img = split == 'vqa_train' and rng.random() < 0.5
    objects = []
    for k, (qx, qy) in enumerate(((64, 0), (0, 64))):
        c = int(rng.integers(3))
        size = int(rng.integers(20, 40))
        x, y = qx + int(rng.integers(2, 62 - size)), \
            qy + int(rng.integers(2, 62 - size))
        corner = corner_img or (split == 'corner' and k == 0)
        colour = np.full(3, 150 if corner else 0)
        colour[c] = 255 if corner else 200
        image[y:y + size, x:x + size] = colour
        objects.append(dict(shape=classes[c], colour='x',
                            bbox=[x, y, x + size, y + size],
                            appearance='corner' if corner else 'common',
                            attributes=[]))
    return dict(image=image, objects=objects, questions=[])


class BinaryDetector(nn.Module):
    """Sees only whether each channel is bright: corner looks are white."""

    def extract_feat(self, x):
        b = (x > 0.5).float()
        return F.avg_pool2d(b, 8), F.avg_pool2d(b, 16)


class PatchEncoder(nn.Module):
    """Mean colour of 8-pixel patches after a CLS token."""
    patch_size = 8

    def forward(self, images):
        from mmmrmllm.models.vision_encoders.base import VisualTokens
        p = F.avg_pool2d(images, 8)
        tok = p.flatten(2).transpose(1, 2)
        cls = torch.full_like(tok[:, :1], 100.)
        return VisualTokens(torch.cat([cls, tok], 1), 1, tuple(p.shape[-2:]))


class Standin(nn.Module):

    def __init__(self):
        from mmdet.models.data_preprocessors import DetDataPreprocessor

        from mmmrmllm.models.data_preprocessors import MRMLLMDataPreprocessor
        super().__init__()
        self.data_preprocessor = MRMLLMDataPreprocessor(det=dict(
            type=DetDataPreprocessor, mean=[0., 0., 0.],
            std=[255., 255., 255.], bgr_to_rgb=True, pad_size_divisor=32))
        self.detector = BinaryDetector()
        self.vision_encoder = PatchEncoder()


@pytest.fixture
def fake_world(monkeypatch):
    import mmmrmllm.datasets.cornershapes as cs
    monkeypatch.setattr(cs, 'generate_image', fake_generate_image)


def test_probe_tells_what_the_mllm_knows_that_the_detector_does_not(
        fake_world):
    result = knowledge_probe(Standin(), num_train=60, num_eval=30)
    assert result['num_train_objects'] == 120
    assert result['num_corner_objects'] == result['num_val_objects'] == 60
    assert result['num_corner_look_objects'] == 30
    det, mllm, chance = result['detector'], result['mllm'], result['chance']
    # both read common looks (needs each box pooled in the right cells)
    assert det['val'] == mllm['val'] == 1.0
    # only the MLLM's features tell pale (corner) objects apart
    assert mllm['corner_looks'] == mllm['corner'] == 1.0
    assert det['corner_looks'] <= chance['corner_looks'] + 0.1
    assert 0.3 < chance['corner_looks'] < 0.6
    assert knowledge_probe(Standin(), num_train=60, num_eval=30) == result


def test_probe_fits_on_vqa_train_objects_only(fake_world, monkeypatch):
    fitted = []
    fit = LinearProbe.fit

    def spy(self, x, y, num_classes):
        fitted.append(y.clone())
        return fit(self, x, y, num_classes)

    monkeypatch.setattr(LinearProbe, 'fit', spy)
    model = Standin()
    model.detector = None
    result = knowledge_probe(model, num_train=20, num_eval=10)
    assert result['detector'] is None and len(fitted) == 1
    train_labels = [
        CLASSES.index(o['shape']) for i in range(20)
        for o in fake_generate_image(0, 'vqa_train', i)['objects']
    ]
    assert fitted[0].tolist() == train_labels
