"""Fixes for MMEngine 0.10.7 under current torch, and one for mmdet 3.3.

Each fix is applied once, at ``import mmmrmllm``, and has a test that fails
without it (``tests/test_utils/test_compat.py``).

1. Checkpoints: torch >= 2.6 loads with ``weights_only=True`` by default, and
   MMEngine 0.10.7 calls ``torch.load`` without the argument, so it cannot
   read back its own checkpoints (``message_hub`` holds ``HistoryBuffer`` and
   numpy arrays). We keep the safe loader and allow-list exactly those
   globals; anything else fails with an error naming the file and the global.
   ``HistoryBuffer.__getstate__`` also pickles its statistics *functions*
   (``getattr(HistoryBuffer, 'min')``), which no safe loader may accept; we
   stop pickling them -- they are re-registered at import time anyway (by
   ``HistoryBuffer`` itself and by any ``register_statistics`` decorator).
   Checkpoints named by URL (``http(s)://``, and ``torchvision://`` /
   ``open-mmlab://`` / ``mmcls://``, which resolve to URLs) went through
   ``torch.hub.load_state_dict_from_url`` with ``weights_only=False``: a
   malicious pickle in the download cache ran its code. They are now
   downloaded to the same cache and read with the same safe loader.
   Checkpoints were written in place, and ``CheckpointHook`` deleted the
   oldest kept checkpoint *before* writing the new one: a kill during a save
   left a truncated file under the final name and, with
   ``max_keep_ckpts=1``, no complete checkpoint at all. Local checkpoints
   are now written to ``<name>.part`` and renamed when complete, and old
   ones are deleted after the new one exists.
2. mmdet 3.3's ``SSDHead`` cannot predict: ``BaseDenseHead`` reads
   ``self.loss_cls``, which ``SSDHead`` never sets
   (open-mmlab/mmdetection#11780). It gets ``loss_cls = None``.
3. Distributed on CPU: the ``pytorch`` launcher calls
   ``torch.cuda.set_device`` and the default DDP wrapper passes
   ``device_ids``, so ``torchrun`` cannot start on a machine without a GPU.
   :func:`setup_cpu_distributed` initialises a ``gloo`` process group before
   the Runner is built (MMEngine then skips its own initialisation) and sets a
   DDP wrapper without ``device_ids``.
4. Package-scope config inheritance (``with read_base(): from
   mmmrmllm.configs.<path> import *``, as mmdet projects inherit from
   ``mmdet.configs``): MMEngine 0.10.7 finds the package with
   ``pkg_resources``, which current setuptools no longer ships, so every
   such import failed with ``No module named 'pkg_resources'``. Without
   ``pkg_resources`` the package is found with ``importlib`` instead.
   ``mmmrmllm/configs`` links to the repository's ``configs/``.
"""
import os
import re

import numpy as np
import torch
from mmengine.runner.checkpoint import CheckpointLoader

from .errors import UserError

_applied = False


def _checkpoint_safe_globals() -> list:
    from mmengine.logging.history_buffer import HistoryBuffer
    safe = [
        HistoryBuffer, np.ndarray, np.dtype, np.core.multiarray._reconstruct,
        np.core.multiarray.scalar
    ]
    # numpy >= 1.25 pickles dtypes as instances of per-type classes.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        safe += [
            getattr(dtypes, name) for name in dir(dtypes)
            if name.endswith('DType')
        ]
    return safe


class UnsafeCheckpointError(UserError, RuntimeError):
    """A checkpoint holds objects the safe loader refuses to unpickle.

    The first line of the message names the file and the object; the
    PyTorch message follows.
    """
    summary_lines = 1


def load_checkpoint_file(filename: str, map_location=None,
                         mmap: bool = False):
    """Load a local checkpoint with ``weights_only=True``.

    MMEngine's own checkpoint contents are allow-listed. A file that needs
    any other global is refused with an error naming it. ``mmap=True``
    memory-maps the tensors (cheap to inspect keys and shapes of a large
    file).
    """
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    try:
        with torch.serialization.safe_globals(_checkpoint_safe_globals()):
            return torch.load(
                filename, map_location=map_location, weights_only=True,
                mmap=mmap)
    except Exception as err:  # UnpicklingError and friends
        if 'Weights only load failed' not in str(err):
            raise
        found = re.search(r'GLOBAL ([\w.]+)', str(err))
        what = f' ({found.group(1)})' if found else ''
        raise UnsafeCheckpointError(
            f'cannot load checkpoint {filename!r} safely: it contains an '
            f'object outside the allow-list{what}, which could run code. If '
            'you trust the file, allow the global with '
            '`torch.serialization.add_safe_globals([...])` before loading.'
            f'\n{err}') from None


def load_checkpoint_url(filename: str, map_location=None, model_dir=None,
                        progress: bool = False):
    """Download a checkpoint URL (rank 0 first; kept in torch's hub cache,
    ``$TORCH_HOME/hub/checkpoints``) and load it with
    :func:`load_checkpoint_file`: never with ``weights_only=False``."""
    from urllib.parse import urlparse

    from mmengine.dist import barrier, get_dist_info
    from torch.hub import download_url_to_file, get_dir
    model_dir = model_dir or os.path.join(get_dir(), 'checkpoints')
    name = os.path.basename(urlparse(filename).path)
    if not name:
        raise ValueError(f'checkpoint URL {filename!r} names no file')
    cached = os.path.join(model_dir, name)
    rank, world_size = get_dist_info()

    def fetch():
        if not os.path.isfile(cached):
            os.makedirs(model_dir, exist_ok=True)
            download_url_to_file(filename, cached, progress=progress)

    if rank == 0:
        fetch()
    if world_size > 1:
        barrier()
        if rank > 0:  # another node's cache
            fetch()
    return load_checkpoint_file(cached, map_location=map_location)


def _atomic_save_checkpoint(checkpoint, filename, file_client_args=None,
                            backend_args=None):
    """MMEngine's ``save_checkpoint``; a local file is written next to its
    final name and renamed when complete (atomic on POSIX)."""
    from mmengine.fileio import get_file_backend
    from mmengine.fileio.backends import LocalBackend
    local = file_client_args is None and not str(filename).startswith(
        'pavi://') and isinstance(
            get_file_backend(filename, backend_args=backend_args),
            LocalBackend)
    if not local:
        return _mm_save_checkpoint(checkpoint, filename, file_client_args,
                                   backend_args)
    filename = str(filename)
    os.makedirs(os.path.dirname(filename) or '.', exist_ok=True)
    part = filename + '.part'
    try:
        with open(part, 'wb') as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(part, filename)
    finally:
        if os.path.exists(part):
            os.remove(part)


def _save_checkpoint_with_step(self, runner, step, meta):
    """``CheckpointHook._save_checkpoint_with_step`` deleting the outdated
    checkpoint only after the new one is saved."""
    backend = self.file_backend
    outdated = []
    remove, rmtree = backend.remove, backend.rmtree
    backend.remove = backend.rmtree = outdated.append
    try:
        _mm_save_with_step(self, runner, step, meta)
    finally:
        backend.remove, backend.rmtree = remove, rmtree
    for path in outdated:
        if backend.isfile(path):
            backend.remove(path)
        elif backend.isdir(path):
            backend.rmtree(path)


_mm_save_checkpoint = None
_mm_save_with_step = None


def _history_buffer_getstate(self) -> dict:
    state = dict(self.__dict__)
    state.pop('statistics_methods', None)
    return state


def installed_path(package: str) -> str:
    """The folder of an importable package (MMEngine's
    ``get_installed_path`` without ``pkg_resources``).

    Raises:
        ModuleNotFoundError: If the package cannot be found.
    """
    import importlib.util
    import os.path as osp
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            f'config inheritance: package {package!r} is not installed')
    return osp.dirname(spec.origin)


def apply_compat() -> None:
    """Apply every fix of this module (idempotent)."""
    global _applied
    if _applied:
        return
    from mmengine.logging.history_buffer import HistoryBuffer
    HistoryBuffer.__getstate__ = _history_buffer_getstate
    CheckpointLoader.register_scheme(
        prefixes='', force=True)(load_checkpoint_file)
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'), force=True)(load_checkpoint_url)
    # torchvision:// , open-mmlab:// and mmcls:// call it by module name
    import mmengine.runner.checkpoint as mm_checkpoint
    mm_checkpoint.load_from_http = load_checkpoint_url
    # atomic checkpoint writes; outdated checkpoints deleted afterwards
    global _mm_save_checkpoint, _mm_save_with_step
    import mmengine.runner.runner as mm_runner
    from mmengine.hooks import CheckpointHook
    _mm_save_checkpoint = mm_checkpoint.save_checkpoint
    mm_checkpoint.save_checkpoint = _atomic_save_checkpoint
    mm_runner.save_checkpoint = _atomic_save_checkpoint
    _mm_save_with_step = CheckpointHook._save_checkpoint_with_step
    CheckpointHook._save_checkpoint_with_step = _save_checkpoint_with_step
    # mmdet 3.3: BaseDenseHead's decoding reads ``self.loss_cls``, which
    # SSDHead never sets (it computes its loss itself), so SSD cannot
    # predict (open-mmlab/mmdetection#11780, #11305; PR #11524 unmerged)
    from mmdet.models.dense_heads import SSDHead
    if 'loss_cls' not in vars(SSDHead):
        SSDHead.loss_cls = None
    # read_base() package-scope imports without pkg_resources
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        import mmengine.config.config as mm_config
        mm_config.get_installed_path = installed_path
    _applied = True


def setup_cpu_distributed(cfg, launcher: str) -> None:
    """Make ``launcher='pytorch'`` work on a machine without a GPU.

    With CUDA available this does nothing: MMEngine's own path is used. On
    CPU it initialises the ``gloo`` process group from the ``torchrun``
    environment and sets ``cfg.model_wrapper_cfg`` to a DDP wrapper without
    ``device_ids`` (keeping ``find_unused_parameters`` from the config).

    Args:
        cfg (Config): The config the Runner will be built from.
        launcher (str): The launcher given on the command line.
    """
    if launcher != 'pytorch' or torch.cuda.is_available():
        return
    import torch.distributed as dist
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    env_cfg = cfg.setdefault('env_cfg', {})
    env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'


def finish_distributed() -> None:
    """Let every rank leave the process group together.

    A rank that exits while another still talks to gloo can abort in the
    gloo destructor ("terminate called without an active exception",
    SIGABRT), which fails a finished launch at random. No-op without a
    process group.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
