"""An iteration-based training loop whose resume does not load the data
it skips."""
from itertools import islice

from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator

from mmmrmllm.registry import LOOPS


class _SkipFirst:
    """A sampler that leaves out the first ``num`` indices of its first
    pass, then is ``sampler`` again (``set_epoch`` goes to ``sampler``)."""

    def __init__(self, sampler, num: int) -> None:
        self.sampler = sampler
        self.num = num

    def __iter__(self):
        num, self.num = self.num, 0
        return islice(iter(self.sampler), num, None)

    def __len__(self) -> int:
        return len(self.sampler)


class _Advanced:
    """Answers MMEngine's "advance the dataloader" calls with nothing, then
    serves the iterator ``position()`` makes: on first use, after the
    epoch hooks (``DistSamplerSeedHook`` sets the sampler's epoch to the
    loop's, 0 in an iteration-based run)."""

    def __init__(self, position, num: int) -> None:
        self.position = position
        self.iterator = None
        self.num = num

    def __iter__(self):
        return self

    def __next__(self):
        if self.num:
            self.num -= 1
            return None
        if self.iterator is None:
            self.iterator = self.position()
        return next(self.iterator)


@LOOPS.register_module()
class SkipAheadIterBasedTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` whose resume skips the trained batches by
    their sample indices instead of loading them.

    MMEngine resumes an iteration-based run by drawing every batch already
    trained from the dataloader and dropping it. For a generated stream
    (:class:`CornerShapesImageTextStream`: 32 images of about 15 ms each per
    batch) that is 12 minutes of image generation before a run killed at
    iteration 1500 of 2000 trains again. Here the sampler is put at the
    epoch the run had reached and its first ``iterations x batch size``
    indices of that epoch are left out, so the run continues with the very
    samples an uninterrupted run would see next, none loaded in vain.

    Only for datasets whose items depend on their index alone, not on the
    data workers' random state (which skipping does not advance).
    """

    def run(self):
        if self._iter > 0:
            iters = self._iter
            self.dataloader_iterator = _Advanced(
                lambda: self._positioned(iters), iters)
        return super().run()

    def _positioned(self, iters: int) -> _InfiniteDataloaderIterator:
        loader = self.dataloader
        epoch, rest = divmod(iters, len(loader))
        batches = loader.batch_sampler
        if epoch and hasattr(batches.sampler, 'set_epoch'):
            batches.sampler.set_epoch(epoch)
        batches.sampler = _SkipFirst(batches.sampler,
                                     rest * batches.batch_size)
        iterator = _InfiniteDataloaderIterator(loader)
        iterator._epoch = epoch
        return iterator
