"""Refusing a training batch the joint model cannot use."""
from typing import Optional, Sequence

from torch import nn

from mmmrmllm.structures import (
    answers_of,
    has_det_ann,
    questions_of,
    sample_name,
    sample_problem,
)


def check_samples(samples: Sequence, detector: Optional[nn.Module]) -> None:
    """Refuse a training batch the model cannot use, naming the sample:
    one without boxes and questions, with answer lists that do not match
    its questions, or with boxes but no masks for a mask branch."""
    with_mask = detector is not None and getattr(detector, 'with_mask',
                                                 False)
    for i, s in enumerate(samples):
        if with_mask and has_det_ann(s) and 'masks' not in s.get(
                'gt_instances', {}):
            raise ValueError(
                f'sample {sample_name(s, i)} has boxes but no masks, and the '
                f'detector {type(detector).__name__} has a mask branch: '
                'load masks (LoadAnnotations(with_mask=True)) or set '
                'model.drop_mask_branch=True to train on boxes only')
        problem = sample_problem(has_det_ann(s), questions_of(s),
                                 answers_of(s))
        if problem:
            raise ValueError(f'sample {sample_name(s, i)} {problem}')
