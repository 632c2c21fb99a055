"""Ground-truth detections on a decaying schedule, corrupted like a
detector's output (a training-time option of :class:`MRMLLM`)."""
from typing import Optional

from mmmrmllm.text.perception_noise import corrupt_objects

__all__ = ['GTPerceptionSchedule', 'corrupt_objects']


class GTPerceptionSchedule:
    """When to show ground truth instead of detections in training.

    For a sample that has both annotated boxes and questions, the box
    tokens and the prompt come from its ground truth - corrupted by
    :func:`corrupt_objects` - with probability ``prob(iter)``, which falls
    linearly from ``prob_start`` to ``prob_end`` over ``decay_iters``; from
    the detector's predictions otherwise. Early in training, when the
    detector is still poor, the LLM learns from informative perception;
    later it learns from what it will see at test time.

    Args:
        prob_start (float): Probability at iteration 0.
        prob_end (float): Probability from ``decay_iters`` on.
        decay_iters (int): Length of the linear decay.
        corrupt (dict, optional): :func:`corrupt_objects` kwargs (``drop``,
            ``add``, ``jitter``).
    """

    def __init__(self,
                 prob_start: float = 1.0,
                 prob_end: float = 0.0,
                 decay_iters: int = 1000,
                 corrupt: Optional[dict] = None) -> None:
        for name, p in (('prob_start', prob_start), ('prob_end', prob_end)):
            if not 0 <= p <= 1:
                raise ValueError(f'{name} must be in [0, 1], got {p}')
        if decay_iters < 0:
            raise ValueError(f'decay_iters must be >= 0, got {decay_iters}')
        self.prob_start = prob_start
        self.prob_end = prob_end
        self.decay_iters = decay_iters
        self.corrupt = dict(drop=0.1, add=0.1, jitter=0.05)
        self.corrupt.update(corrupt or {})

    def prob(self, iteration: int) -> float:
        """Probability of ground truth at ``iteration``."""
        if self.decay_iters == 0 or iteration >= self.decay_iters:
            return self.prob_end
        frac = iteration / self.decay_iters
        return self.prob_start + (self.prob_end - self.prob_start) * frac
