"""Knowledge probe: does the MLLM know corner looks the detector does not?

A linear probe of object class (shape), fitted on the objects of
CornerShapes' ``vqa_train`` images (common and corner looks) and scored on
``corner`` and ``val`` objects, once from the detector's features and once
from the MLLM's visual tokens, each average-pooled inside the object's box.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

SOURCES = ('detector', 'mllm')


def _span(lo: float, hi: float, n: int) -> Tuple[int, int]:
    start = min(max(int(math.floor(lo)), 0), n - 1)
    return start, min(max(int(math.ceil(hi)), start + 1), n)


def pool_boxes(feat: Tensor, boxes: Tensor,
               scale: Tuple[float, float]) -> Tensor:
    """Average a feature map inside boxes.

    Args:
        feat (Tensor): (C, H, W) map.
        boxes (Tensor): (N, 4) xyxy in image pixels.
        scale (tuple[float, float]): Map cells per image pixel (x, y).

    Returns:
        Tensor: (N, C), each box's mean over the cells it touches
        (``floor(x1 * sx)`` to ``ceil(x2 * sx)``, clipped to the map; at
        least one cell).
    """
    _, h, w = feat.shape
    out = []
    for x1, y1, x2, y2 in boxes.tolist():
        c0, c1 = _span(x1 * scale[0], x2 * scale[0], w)
        r0, r1 = _span(y1 * scale[1], y2 * scale[1], h)
        out.append(feat[:, r0:r1, c0:c1].mean((1, 2)))
    return torch.stack(out) if out else feat.new_zeros(0, feat.shape[0])


def _views(images: Sequence[np.ndarray], enc_scale, det_scale) -> dict:
    """Both model views of RGB images, packed and collated."""
    from mmdet.datasets.transforms import Resize
    from mmengine.dataset import Compose, pseudo_collate

    from mmmrmllm.datasets import EncoderView, PackMRMLLMInputs
    pipeline = Compose([
        EncoderView(scale=enc_scale),
        Resize(scale=det_scale, keep_ratio=True),
        PackMRMLLMInputs()
    ])
    packed = []
    for i, image in enumerate(images):
        bgr = np.ascontiguousarray(image[..., ::-1])
        packed.append(pipeline(dict(
            img=bgr, img_shape=bgr.shape[:2], ori_shape=bgr.shape[:2],
            img_id=i, img_path='x', has_det_ann=False, questions=['q'],
            gt_answers=[['a']], question_types=[''], question_ids=[0])))
    return pseudo_collate(packed)


@torch.no_grad()
def object_features(model,
                    images: Sequence[np.ndarray],
                    boxes: Sequence[np.ndarray],
                    enc_scale: Tuple[int, int] = (64, 64),
                    det_scale: Tuple[int, int] = (128, 128),
                    batch_size: int = 16) -> Dict[str, Optional[Tensor]]:
    """Per-object features of the detector and of the MLLM's encoder.

    Detector: each level of ``extract_feat`` pooled in the box, then the
    mean over levels (concatenated if their widths differ). MLLM: the
    vision encoder's patch tokens (prefix dropped) pooled in the box.

    Args:
        model (MRMLLM): The model (call ``eval()`` first).
        images (Sequence[np.ndarray]): (H, W, 3) uint8 RGB images.
        boxes (Sequence[np.ndarray]): (N_i, 4) xyxy pixel boxes per image.
        enc_scale (tuple[int, int]): Encoder view (w, h).
        det_scale (tuple[int, int]): Detector resize scale (w, h).
        batch_size (int): Images per forward.

    Returns:
        dict: ``detector`` and ``mllm``: (sum N_i, C) float CPU tensors,
        None where the model lacks that part.
    """
    det = getattr(model, 'detector', None)
    enc = getattr(model, 'vision_encoder', None)
    adapter = getattr(model, 'det_adapter', None)
    out: Dict[str, List[Tensor]] = {s: [] for s in SOURCES}
    for start in range(0, len(images), batch_size):
        data = model.data_preprocessor(_views(
            images[start:start + batch_size], enc_scale, det_scale), False)
        inputs, samples = data['inputs'], data['data_samples']
        bxs = [torch.as_tensor(np.asarray(b, np.float32).reshape(-1, 4))
               for b in boxes[start:start + batch_size]]
        if det is not None:
            x = inputs['det']
            levels = adapter.extract(x) if adapter is not None else \
                det.extract_feat(x)
            for i, (s, b) in enumerate(zip(samples, bxs)):
                sf = s.metainfo.get('scale_factor', (1.0, 1.0))
                pooled = [pool_boxes(f[i].float(), b, (
                    sf[0] * f.shape[-1] / x.shape[-1],
                    sf[1] * f.shape[-2] / x.shape[-2])) for f in levels]
                same = len({p.shape[1] for p in pooled}) == 1
                out['detector'].append(
                    torch.stack(pooled).mean(0) if same else
                    torch.cat(pooled, 1))
        if enc is not None:
            vis = enc(inputs['enc'])
            gh, gw = vis.grid
            tok = vis.tokens[:, vis.num_prefix:].float()
            maps = tok.transpose(1, 2).reshape(len(bxs), -1, gh, gw)
            patch = getattr(enc, 'patch_size', inputs['enc'].shape[-1] // gw)
            for i, (image, b) in enumerate(
                    zip(images[start:start + batch_size], bxs)):
                h, w = image.shape[:2]
                out['mllm'].append(pool_boxes(maps[i], b, (
                    enc_scale[0] / w / patch, enc_scale[1] / h / patch)))
    return {s: torch.cat(v).cpu() if v else None for s, v in out.items()}


class LinearProbe:
    """Multinomial logistic regression on standardised features.

    Args:
        weight_decay (float): L2 penalty on the weights (not the bias).
        max_iter (int): LBFGS iterations.
    """

    def __init__(self, weight_decay: float = 1e-3, max_iter: int = 200):
        self.weight_decay = weight_decay
        self.max_iter = max_iter

    def fit(self, x: Tensor, y: Tensor, num_classes: int) -> 'LinearProbe':
        """Fit on (N, D) features ``x`` and (N,) labels ``y``."""
        x = x.double()
        self.mean, self.std = x.mean(0), x.std(0).clamp_min(1e-6)
        z = (x - self.mean) / self.std
        self.w = torch.zeros(x.shape[1], num_classes, dtype=torch.float64,
                             requires_grad=True)
        self.b = torch.zeros(num_classes, dtype=torch.float64,
                             requires_grad=True)
        opt = torch.optim.LBFGS([self.w, self.b], max_iter=self.max_iter,
                                line_search_fn='strong_wolfe')

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(z @ self.w + self.b, y.long()) + \
                self.weight_decay * self.w.pow(2).sum()
            loss.backward()
            return loss

        with torch.enable_grad():
            opt.step(closure)
        return self

    def predict(self, x: Tensor) -> Tensor:
        """(N,) predicted classes of (N, D) features."""
        with torch.no_grad():
            z = (x.double() - self.mean) / self.std
            return (z @ self.w + self.b).argmax(1)


def _accuracy(pred: Tensor, y: Tensor) -> float:
    return round(float((pred == y).double().mean()), 4) if len(y) else 0.0


def _objects(seed: int, split: str, num: int, img_size: int) -> dict:
    """Images, boxes, class labels and looks of a split's first images."""
    from mmmrmllm.datasets.cornershapes import CLASSES, generate_image
    images, boxes, labels, looks = [], [], [], []
    for index in range(num):
        g = generate_image(seed, split, index, CLASSES, img_size)
        images.append(g['image'])
        boxes.append(np.array([o['bbox'] for o in g['objects']], np.float32))
        labels += [CLASSES.index(o['shape']) for o in g['objects']]
        looks += [o['appearance'] == 'corner' for o in g['objects']]
    return dict(images=images, boxes=boxes, labels=torch.tensor(labels),
                corner=torch.tensor(looks, dtype=torch.bool),
                num_classes=len(CLASSES))


def knowledge_probe(model,
                    seed: int = 0,
                    num_train: int = 600,
                    num_eval: int = 150,
                    img_size: int = 128,
                    enc_scale: Tuple[int, int] = (64, 64),
                    det_scale: Tuple[int, int] = (128, 128),
                    weight_decay: float = 1e-3) -> dict:
    """Linear probes of object class from the detector's and the MLLM's
    features: fitted on the objects of the first ``num_train``
    ``vqa_train`` images, scored on those of the first ``num_eval``
    ``corner`` and ``val`` images (the benchmark generated with ``seed``).

    Args:
        model (MRMLLM): The model (joint or a baseline); put in eval mode.
        seed (int): The benchmark's generation seed.
        num_train (int): ``vqa_train`` images to fit on.
        num_eval (int): ``corner`` and ``val`` images to score on.
        img_size (int): Image side the benchmark was generated at.
        enc_scale (tuple[int, int]): Encoder view (w, h).
        det_scale (tuple[int, int]): Detector resize scale (w, h).
        weight_decay (float): The probes' L2 penalty.

    Returns:
        dict: ``detector`` and ``mllm`` (None without that part): accuracy
        on ``corner`` objects, on the corner-look objects among them
        (``corner_looks``), on ``val`` objects and on the fitting objects
        (``train``); ``chance``: the majority class rate of each evaluation
        set; ``num_*_objects``.
    """
    model.eval()
    sets = {name: _objects(seed, split, num, img_size) for name, split, num
            in (('train', 'vqa_train', num_train),
                ('corner', 'corner', num_eval), ('val', 'val', num_eval))}
    feats = {name: object_features(model, s['images'], s['boxes'],
                                   enc_scale, det_scale)
             for name, s in sets.items()}
    tr, cor = sets['train'], sets['corner']
    masks = dict(corner=('corner', None), corner_looks=('corner', 'corner'),
                 val=('val', None), train=('train', None))

    def labels(name):
        split, look = masks[name]
        y = sets[split]['labels']
        return y[sets[split][look]] if look else y

    result = {}
    for src in SOURCES:
        if feats['train'][src] is None:
            result[src] = None
            continue
        probe = LinearProbe(weight_decay).fit(
            feats['train'][src], tr['labels'], tr['num_classes'])
        result[src] = {}
        for name, (split, look) in masks.items():
            pred = probe.predict(feats[split][src])
            result[src][name] = _accuracy(
                pred[sets[split][look]] if look else pred, labels(name))
    result['chance'] = {
        name: round(float(labels(name).bincount().max()) /
                    len(labels(name)), 4) if len(labels(name)) else 0.0
        for name in masks if name != 'train'
    }
    result.update(num_train_objects=len(tr['labels']),
                  num_corner_objects=len(cor['labels']),
                  num_corner_look_objects=int(cor['corner'].sum()),
                  num_val_objects=len(sets['val']['labels']))
    return result
