"""Sampling a mix of datasets (e.g. detection-only + VQA-only) by ratio."""
import math
from typing import Iterator, List, Optional, Sequence, Sized

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmmrmllm.registry import DATA_SAMPLERS


def split_by_ratio(total: int, ratios: Sequence[float]) -> List[int]:
    """Split ``total`` into integer parts proportional to ``ratios``.

    Largest-remainder rounding, so the parts add up to ``total``.
    """
    weight = float(sum(ratios))
    exact = [total * r / weight for r in ratios]
    parts = [math.floor(e) for e in exact]
    order = sorted(
        range(len(ratios)), key=lambda i: exact[i] - parts[i], reverse=True)
    for i in order[:total - sum(parts)]:
        parts[i] += 1
    return parts


@DATA_SAMPLERS.register_module()
class MixedRatioSampler(Sampler):
    """Epoch sampler over a ``ConcatDataset`` with fixed source ratios.

    Each epoch draws ``num_samples`` indices, a share ``ratios[i] /
    sum(ratios)`` of them from the ``i``-th dataset (without replacement
    while the dataset lasts, then from a fresh permutation), shuffles them
    and gives each rank its slice. Works with epoch- and iteration-based
    loops. mmdet's ``MultiSourceSampler`` is the alternative that fixes the
    ratio inside every batch (iteration-based loops only).

    Args:
        dataset (Sized): A ``ConcatDataset`` (has ``datasets`` and
            ``cumulative_sizes``).
        ratios (Sequence[float]): Non-negative weight per source dataset;
            0 leaves a source out.
        num_samples (int, optional): Indices per epoch over all ranks.
            Defaults to ``len(dataset)``.
        shuffle (bool): Shuffle the mixed indices. Defaults to True.
        seed (int, optional): Random seed, synced across ranks when None.
    """

    def __init__(self,
                 dataset: Sized,
                 ratios: Sequence[float],
                 num_samples: Optional[int] = None,
                 shuffle: bool = True,
                 seed: Optional[int] = None) -> None:
        if not hasattr(dataset, 'cumulative_sizes'):
            raise TypeError('MixedRatioSampler needs a ConcatDataset, got '
                            f'{type(dataset).__name__}')
        sizes = [len(d) for d in dataset.datasets]
        if len(ratios) != len(sizes):
            raise ValueError(f'{len(ratios)} ratios for {len(sizes)} '
                             'datasets')
        if any(r < 0 for r in ratios) or sum(ratios) <= 0:
            raise ValueError(f'ratios must be >= 0, not all 0: {ratios}')
        for r, size in zip(ratios, sizes):
            if r > 0 and size == 0:
                raise ValueError('a dataset with a positive ratio is empty')
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.sizes = sizes
        self.offsets = [0] + list(dataset.cumulative_sizes[:-1])
        self.ratios = list(ratios)
        self.total = num_samples if num_samples is not None else len(dataset)
        self.per_source = split_by_ratio(self.total, self.ratios)
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        self.num_samples = math.ceil(self.total / self.world_size)

    def _indices(self) -> List[int]:
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        indices = []
        for count, size, offset in zip(self.per_source, self.sizes,
                                       self.offsets):
            picked: List[int] = []
            while len(picked) < count:
                perm = (torch.randperm(size, generator=g).tolist()
                        if self.shuffle else list(range(size)))
                picked.extend(perm[:count - len(picked)])
            indices.extend(offset + i for i in picked)
        if self.shuffle:
            order = torch.randperm(len(indices), generator=g).tolist()
            indices = [indices[i] for i in order]
        return indices

    def __iter__(self) -> Iterator[int]:
        indices = self._indices()
        padded = self.num_samples * self.world_size
        indices = (indices * math.ceil(padded / max(len(indices), 1)))[:padded]
        return iter(indices[self.rank:padded:self.world_size])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use a different draw in each epoch."""
        self.epoch = epoch
