"""Wall time per part of a model, from regions the model marks itself."""
import contextlib
import time
from collections import defaultdict
from typing import Dict, Iterator, Optional

import torch


class PartTimer:
    """Adds up the wall time of named regions.

    A model marks its parts with :func:`timed_part` (a no-op unless a timer
    is attached); tools attach one with :meth:`attach`::

        timer = PartTimer()
        with timer.attach(model):
            model(**batch, mode='predict')
        timer.seconds  # {'detector.extract': 0.05, 'detector.head': ...}

    Regions may nest (``'llm'`` inside a step); each name adds up its own
    calls. ``calls`` counts the calls of each region and ``images`` the
    images (batch rows) they processed, which shows e.g. that the detector
    ran once per image whatever the number of questions.

    Args:
        cuda_sync (bool): Synchronise CUDA around each region so that
            asynchronous kernels are charged to the right part. Defaults to
            True when CUDA is available.
    """

    def __init__(self, cuda_sync: Optional[bool] = None) -> None:
        self.cuda_sync = torch.cuda.is_available() if cuda_sync is None \
            else cuda_sync
        self.seconds: Dict[str, float] = defaultdict(float)
        self.calls: Dict[str, int] = defaultdict(int)
        self.images: Dict[str, int] = defaultdict(int)

    def reset(self) -> None:
        """Forget everything measured so far."""
        self.seconds.clear()
        self.calls.clear()
        self.images.clear()

    @contextlib.contextmanager
    def part(self, name: str, images: int = 0) -> Iterator[None]:
        """Time one region.

        Args:
            name (str): Part name, e.g. ``'detector.head'``.
            images (int): Images the region processes (for ``images``).
        """
        if self.cuda_sync:
            torch.cuda.synchronize()
        start = time.perf_counter()
        try:
            yield
        finally:
            if self.cuda_sync:
                torch.cuda.synchronize()
            self.seconds[name] += time.perf_counter() - start
            self.calls[name] += 1
            self.images[name] += images

    @contextlib.contextmanager
    def attach(self, model: torch.nn.Module) -> Iterator['PartTimer']:
        """Let ``model``'s :func:`timed_part` regions report to this timer
        inside the block."""
        previous = getattr(model, 'part_timer', None)
        model.part_timer = self
        try:
            yield self
        finally:
            model.part_timer = previous


def timed_part(model: torch.nn.Module, name: str, images: int = 0):
    """A region of ``model`` named ``name``: timed when a
    :class:`PartTimer` is attached to it, free otherwise."""
    timer = getattr(model, 'part_timer', None)
    if timer is None:
        return contextlib.nullcontext()
    return timer.part(name, images)
