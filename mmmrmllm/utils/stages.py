"""Cached training stages (pre-training outputs built once per machine).

A stage is a config trained with MMEngine's ``Runner``. Its output folder
lives under the user's cache (``$MMMRMLLM_CACHE_DIR``, else
``${XDG_CACHE_HOME:-~/.cache}/mmmrmllm/stages``), named by a hash of

* the stage's resolved config (with the data folder's path replaced by a
  fingerprint of its content, and the folders of the stages it reads by
  those stages' keys),
* the source of the package modules the stage runs
  (:func:`mmmrmllm.utils.code_deps.code_files`: the modules of the types
  its config names and what they use; an edit to any other module, such
  as the web demo's inferencer or a tool, keeps the stage),
* the versions of torch, mmengine, mmdet and transformers,

so that a changed config, code, data or input stage builds a new one and
an unchanged one is reused. :meth:`Stage.reason` says why a stage is
(re)built: what differs from the last cached run of the same name, the
changed files listed. A stage trains in ``<name>-<hash>.partial`` (resumable: a
rerun after an interruption resumes from its last checkpoint) and is
renamed when it has finished, with ``stage.json`` recording what it made.
"""
import glob
import hashlib
import json
import os
import os.path as osp
import re
import shutil
import time
from typing import Callable, Dict, Iterable, Optional, Tuple


def cache_root() -> str:
    """The folder that holds the cached stages."""
    root = os.environ.get('MMMRMLLM_CACHE_DIR')
    if not root:
        base = os.environ.get('XDG_CACHE_HOME') or osp.join(
            osp.expanduser('~'), '.cache')
        root = osp.join(base, 'mmmrmllm')
    return osp.join(root, 'stages')


def code_fingerprint(cfg) -> Dict[str, str]:
    """The package files the config runs → their SHA-256
    (:func:`mmmrmllm.utils.code_deps.code_files`)."""
    from .code_deps import code_files
    return code_files(cfg)


def data_fingerprint(data_root: str,
                     files: Iterable[str] = ('stats.json',
                                             'tokenizer/tokenizer.json')
                     ) -> str:
    """Hash of a data folder's identifying files (for a generated
    benchmark, its statistics and tokenizer)."""
    h = hashlib.sha256()
    for name in files:
        path = osp.join(data_root, name)
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path} not found (is {data_root} a '
                                    'generated CornerShapes folder?)')
        h.update(name.encode())
        with open(path, 'rb') as f:
            h.update(f.read())
    return h.hexdigest()


def _versions() -> str:
    import mmdet
    import mmengine
    import torch
    import transformers
    return ' '.join(m.__version__
                    for m in (torch, mmengine, mmdet, transformers))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def key_parts(cfg, data_root: Optional[str] = None,
              root: Optional[str] = None) -> dict:
    """What a stage's key hashes, part by part: ``config``, ``data``,
    ``inputs`` (name → key of each cached stage under ``root`` whose
    folder the config names: a stage reading another's output), ``code``
    (file → hash), ``versions``."""
    text = cfg.pretty_text
    if data_root:
        text = text.replace(data_root.rstrip('/'), '<data_root>')
    inputs = {}
    if root:
        found = re.compile(re.escape(osp.join(root, '')) +
                           r'([\w.]+)-([0-9a-f]{16})')
        inputs = dict(found.findall(text))
        text = found.sub(r'<stage \1>', text)
    return dict(
        config=_sha(text),
        data=data_fingerprint(data_root) if data_root else '',
        inputs=dict(sorted(inputs.items())),
        code=code_fingerprint(cfg),
        versions=_versions())


def stage_key(cfg, data_root: Optional[str] = None,
              root: Optional[str] = None) -> str:
    """The cache key of a resolved config (16 hex digits)."""
    return _sha(json.dumps(key_parts(cfg, data_root, root),
                           sort_keys=True))[:16]


def explain(parts: dict, old: Optional[dict]) -> str:
    """Why a stage with key ``parts`` differs from the cached run whose
    key parts are ``old`` (None: no cached run of that name)."""
    if old is None:
        return 'no cached run of this stage'
    why = []
    for name in ('config', 'data', 'versions'):
        if parts[name] != old.get(name):
            why.append({'config': 'config (or seed) changed',
                        'data': 'data changed',
                        'versions': 'library versions changed'}[name])
    changed = sorted(k for k in set(parts['inputs']) | set(old['inputs'])
                     if parts['inputs'].get(k) != old['inputs'].get(k))
    if changed:
        why.append('input stage ' + ', '.join(changed) + ' changed')
    new_code, old_code = parts['code'], old.get('code', {})
    files = sorted(f for f in set(new_code) | set(old_code)
                   if new_code.get(f) != old_code.get(f))
    if files:
        why.append('code changed: ' + ', '.join(
            f + ('' if f in new_code else ' (no longer run)')
            + ('' if f in old_code else ' (newly run)') for f in files))
    return '; '.join(why) or 'cached run incomplete'


def _attempt_started(partial: str) -> Tuple[Optional[int], float]:
    """Record an attempt at a stage (next to its partial folder).

    Returns:
        tuple: The iteration of the checkpoint MMEngine resumes from (None
        for a fresh start) and the minutes the earlier attempts ran (each
        until the last file it wrote, e.g. its log: a killed run leaves no
        end time).
    """
    file = partial + '.attempts.json'
    attempts = []
    if osp.isfile(file):
        with open(file) as f:
            attempts = json.load(f)
        attempts[-1]['end'] = max(
            [attempts[-1]['start']] +
            [osp.getmtime(osp.join(d, n))
             for d, _, names in os.walk(partial) for n in names])
    resumed_from = None
    last = osp.join(partial, 'last_checkpoint')
    if osp.isfile(last):
        with open(last) as f:
            found = re.search(r'iter_(\d+)\.pth', f.read())
        resumed_from = int(found.group(1)) if found else None
    earlier = sum(a['end'] - a['start'] for a in attempts) / 60
    attempts.append(dict(start=time.time()))
    with open(file, 'w') as f:
        json.dump(attempts, f)
    return resumed_from, earlier


class Stage:
    """One cached stage.

    Args:
        name (str): Short name, e.g. ``'detector'``.
        cfg (Config): The stage's resolved config (``work_dir`` is set
            here).
        data_root (str, optional): Data folder, fingerprinted by content.
        outputs (dict): Output name → path relative to the work dir, e.g.
            ``dict(checkpoint='iter_250.pth')``.
        root (str, optional): Cache folder; defaults to :func:`cache_root`.
            A stage folder of it named in the config (another stage's
            output) counts by that stage's key, so this stage is rebuilt
            after that one.
    """

    def __init__(self, name: str, cfg, data_root: Optional[str],
                 outputs: Dict[str, str], root: Optional[str] = None):
        self.name = name
        self.cfg = cfg
        self.root = root or cache_root()
        self.parts = key_parts(cfg, data_root, self.root)
        self.key = _sha(json.dumps(self.parts, sort_keys=True))[:16]
        self.dir = osp.join(self.root, f'{name}-{self.key}')
        self.outputs = outputs

    @property
    def record_file(self) -> str:
        return osp.join(self.dir, 'stage.json')

    def cached(self) -> Optional[dict]:
        """The record of a finished run, or None."""
        if not osp.isfile(self.record_file):
            return None
        with open(self.record_file) as f:
            record = json.load(f)
        missing = [p for p in record['outputs'].values()
                   if not osp.exists(p)]
        return None if missing else record

    def reason(self) -> str:
        """Why this stage must be built: what differs from the most recent
        cached run of the same name ('' when it is cached)."""
        if self.cached() is not None:
            return ''
        last, when = None, -1.0
        for path in glob.glob(osp.join(self.root, f'{self.name}-*',
                                       'stage.json')):
            with open(path) as f:
                record = json.load(f)
            if record.get('name') == self.name and 'parts' in record and \
                    osp.getmtime(path) > when:
                last, when = record['parts'], osp.getmtime(path)
        why = explain(self.parts, last)
        if osp.isdir(self.dir + '.partial'):
            why += ' (resuming an interrupted run)'
        return why

    def run(self, train: Callable[[object], Optional[dict]]) -> dict:
        """Reuse the cached output or run ``train(cfg)`` and cache it.

        Args:
            train (Callable): Trains the config (``cfg.work_dir`` set to the
                partial folder, ``cfg.resume`` to True); may return metrics.

        Returns:
            dict: ``outputs`` (absolute paths), ``minutes`` (of every
            attempt), ``resumed_from_iter`` (None unless an interrupted
            run was resumed), ``metrics``, ``cached`` (True when reused:
            the rest is the training run's record), ``dir``, ``key``.
        """
        record = self.cached()
        if record is not None:
            return dict(record, cached=True, dir=self.dir)
        partial = self.dir + '.partial'
        os.makedirs(partial, exist_ok=True)
        self.cfg.work_dir = partial
        self.cfg.resume = True
        resumed_from, earlier = _attempt_started(partial)
        start = time.perf_counter()
        metrics = train(self.cfg) or {}
        minutes = (time.perf_counter() - start) / 60 + earlier
        for rel in self.outputs.values():
            if not osp.exists(osp.join(partial, rel)):
                raise RuntimeError(f'stage {self.name} finished without its '
                                   f'output {rel} in {partial}')
        if osp.exists(self.dir):
            shutil.rmtree(self.dir)
        os.replace(partial, self.dir)
        os.remove(partial + '.attempts.json')
        record = dict(
            name=self.name,
            key=self.key,
            parts=self.parts,
            outputs={k: osp.join(self.dir, v)
                     for k, v in self.outputs.items()},
            minutes=round(minutes, 2),
            resumed_from_iter=resumed_from,
            metrics=metrics)
        with open(self.record_file, 'w') as f:
            json.dump(record, f, indent=2)
        return dict(record, cached=False, dir=self.dir)
