from collections import Counter

import pytest
from torch.utils.data import ConcatDataset

from mmmrmllm.datasets import MixedRatioSampler
from mmmrmllm.datasets.samplers import split_by_ratio


def source_counts(indices, boundary):
    return Counter('det' if i < boundary else 'vqa' for i in indices)


def test_split_by_ratio():
    assert split_by_ratio(10, [1, 1, 1]) == [4, 3, 3]
    assert sum(split_by_ratio(101, [0.3, 0.7])) == 101
    assert split_by_ratio(10, [0, 1]) == [0, 10]


def test_ratio_and_determinism():
    dataset = ConcatDataset([list(range(100)), list(range(20))])
    sampler = MixedRatioSampler(dataset, ratios=[1, 3], seed=0)
    indices = list(sampler)
    assert len(indices) == len(sampler) == 120
    assert source_counts(indices, 100) == {'det': 30, 'vqa': 90}
    # the small source repeats, the big one is drawn without replacement
    assert len(set(i for i in indices if i < 100)) == 30
    assert indices == list(MixedRatioSampler(dataset, [1, 3], seed=0))
    sampler.set_epoch(1)
    assert list(sampler) != indices


def test_num_samples_and_zero_ratio():
    dataset = ConcatDataset([list(range(10)), list(range(10))])
    sampler = MixedRatioSampler(dataset, [0, 1], num_samples=7, seed=1)
    indices = list(sampler)
    assert len(indices) == 7 and all(i >= 10 for i in indices)


def test_bad_arguments():
    dataset = ConcatDataset([list(range(10)), []])
    with pytest.raises(ValueError):
        MixedRatioSampler(dataset, [1], seed=0)
    with pytest.raises(ValueError):
        MixedRatioSampler(dataset, [1, 1], seed=0)
    with pytest.raises(TypeError):
        MixedRatioSampler(list(range(3)), [1], seed=0)
