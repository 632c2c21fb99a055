"""The command-line tools as a user runs them (issue 5).

``tools/train.py``, ``tools/test.py`` and ``tools/infer.py`` run as
subprocesses on a tiny MR-MLLM (``tests/data/configs/mrmllm_tiny_cli.py``)
and a CornerShapes set generated once per session. The processes run with
the session folder as working directory, where the config's relative
``data_root`` (``data/cornershapes/``) resolves.
"""
import glob
import json
import os
import os.path as osp
import pickle
import random
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from torch import nn

from mmmrmllm.utils.checkpoint import (
    CheckpointMismatchError,
    check_checkpoint_matches,
)
from mmmrmllm.utils.compat import load_checkpoint_file

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN = osp.join(ROOT, 'tools', 'train.py')
TEST = osp.join(ROOT, 'tools', 'test.py')
INFER = osp.join(ROOT, 'tools', 'infer.py')
CONFIGS = osp.join(ROOT, 'tests', 'data', 'configs')
TINY = osp.join(CONFIGS, 'mrmllm_tiny_cli.py')
FCOS_DDP = osp.join(CONFIGS, 'mrmllm_fcos_ddp_cli.py')
MAX_ITERS = 8  # train_cfg.max_iters of TINY (checkpoints every 2)


def run(args, cwd, timeout=300):
    """Run ``python ARGS`` like a user; returns the CompletedProcess."""
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    return subprocess.run([sys.executable, *map(str, args)],
                          cwd=str(cwd),
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=timeout)


def tail(res, n=3000):
    return f'rc={res.returncode}\nstdout: {res.stdout[-n:]}\n' \
        f'stderr: {res.stderr[-n:]}'


def last_run_dir(work_dir) -> str:
    """The newest ``<timestamp>`` folder MMEngine made in ``work_dir``."""
    runs = sorted(d for d in glob.glob(osp.join(str(work_dir), '2*'))
                  if osp.isdir(d))
    assert runs, f'no run folder in {work_dir}'
    return runs[-1]


def train_scalars(work_dir) -> dict:
    """step -> the training record MMEngine logged (``scalars.json``)."""
    path = osp.join(last_run_dir(work_dir), 'vis_data', 'scalars.json')
    records = {}
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            if 'loss' in rec:
                records[rec['step']] = rec
    return records


@pytest.fixture(scope='session')
def workspace(tmp_path_factory):
    """A folder with ``data/cornershapes`` (64-px images)."""
    from mmmrmllm.datasets.cornershapes import generate_cornershapes
    root = tmp_path_factory.mktemp('cli')
    generate_cornershapes(
        str(root / 'data' / 'cornershapes'),
        sizes=dict(det_train=16, vqa_train=16, val=8, corner=8, novel=0),
        img_size=64)
    return root


@pytest.fixture(scope='session')
def trained(workspace):
    """An uninterrupted run of TINY: 8 iterations, then validation."""
    work = workspace / 'trained'
    res = run([TRAIN, TINY, '--work-dir', work], workspace)
    assert res.returncode == 0, tail(res)
    assert osp.isfile(work / f'iter_{MAX_ITERS}.pth')
    return work


# ------------------------------------------------------------------ resume
@pytest.mark.slow
def test_killed_run_resumes_with_the_same_losses(workspace, trained):
    work = workspace / 'killed'
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    with open(workspace / 'killed.log', 'w') as log:
        proc = subprocess.Popen(
            [sys.executable, TRAIN, TINY, '--work-dir',
             str(work)],
            cwd=str(workspace),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT)
        # `last_checkpoint` is written once a checkpoint is complete; it
        # exists (empty) for a moment before MMEngine writes the path
        marker = work / 'last_checkpoint'

        def written():
            return marker.exists() and marker.read_text().strip()

        deadline = time.time() + 240
        while not written() and proc.poll() is None \
                and time.time() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, 'training ended before it was killed'
        assert written(), 'no checkpoint within the time limit'
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    last = re.search(r'iter_(\d+)\.pth', marker.read_text())
    assert last, marker.read_text()
    resumed_from = int(last.group(1))
    assert resumed_from < MAX_ITERS
    assert not (work / f'iter_{MAX_ITERS}.pth').exists()

    res = run([TRAIN, TINY, '--work-dir', work, '--resume'], workspace)
    assert res.returncode == 0, tail(res)
    assert f'resumed epoch: 0, iter: {resumed_from}' in res.stdout + \
        res.stderr

    full = train_scalars(trained)
    resumed = train_scalars(work)
    assert sorted(resumed) == list(range(resumed_from + 1, MAX_ITERS + 1))
    # DINO's denoising queries draw random numbers every step: equal losses
    # need the random states restored (RandomStateHook)
    dn_keys = [k for k in full[MAX_ITERS] if 'dn_loss' in k]
    assert dn_keys
    for step, rec in resumed.items():
        for key in ['loss', 'grad_norm', 'lr'] + dn_keys:
            if key in full[step]:
                assert rec[key] == pytest.approx(
                    full[step][key], rel=1e-6, abs=1e-7), (step, key)
    ckpt_full = load_checkpoint_file(str(trained / f'iter_{MAX_ITERS}.pth'))
    ckpt_res = load_checkpoint_file(str(work / f'iter_{MAX_ITERS}.pth'))
    for key, value in ckpt_full['state_dict'].items():
        torch.testing.assert_close(ckpt_res['state_dict'][key], value,
                                   rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------- DDP
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _initial_weights(config: str, cwd) -> dict:
    """The weights the Runner starts from (seed 0, then init_weights), built
    in ``cwd`` like the CLI runs (the config's data paths are relative)."""
    from mmengine.config import Config
    from mmengine.runner import set_random_seed

    from mmmrmllm.registry import MODELS
    states = random.getstate(), np.random.get_state()
    old_cwd = os.getcwd()
    try:
        os.chdir(cwd)
        with torch.random.fork_rng():
            set_random_seed(0)
            model = MODELS.build(Config.fromfile(config).model)
            model.init_weights()
    finally:
        os.chdir(old_cwd)
    random.setstate(states[0])
    np.random.set_state(states[1])
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.slow
def test_two_processes_equal_one_with_the_same_global_batch(workspace):
    single_dir, ddp_dir = workspace / 'single', workspace / 'ddp'
    res = run([TRAIN, FCOS_DDP, '--work-dir', single_dir], workspace)
    assert res.returncode == 0, tail(res)
    res = run([
        '-m', 'torch.distributed.run', '--nproc_per_node', '2',
        '--master_port',
        _free_port(), TRAIN, FCOS_DDP, '--launcher', 'pytorch',
        '--work-dir', ddp_dir, '--cfg-options', 'train_dataloader.batch_size=1'
    ], workspace)
    assert res.returncode == 0, tail(res)
    logs = res.stdout + res.stderr
    assert 'Distributed training: True' in logs, logs[-3000:]

    single = load_checkpoint_file(str(single_dir / 'iter_1.pth'))
    ddp = load_checkpoint_file(str(ddp_dir / 'iter_1.pth'))
    single, ddp = single['state_dict'], ddp['state_dict']
    init = _initial_weights(FCOS_DDP, workspace)
    assert single.keys() == ddp.keys() == init.keys()
    updated = set()
    for key, start in init.items():
        step = (single[key].float() - start.float()).abs().max().item()
        if step > 1e-6:
            updated.add(key.split('.')[0])
        diff = (ddp[key].float() - single[key].float()).abs().max().item()
        # float noise is ~1e-5 of the update; a per-rank mean of the LM
        # loss (rank 0 and 1 have different numbers of answer tokens) was
        # ~1e-2 of it on the LLM weights
        assert diff <= 1e-3 * step + 1e-7, (key, diff, step)
    # one SGD step moved every trained part
    assert {'detector', 'llm', 'fusion', 'vision_encoder',
            'language_projection'} <= updated


# --------------------------------------------------------------- bad input
def assert_one_line_error(res, *needles):
    assert res.returncode != 0, tail(res)
    assert 'Traceback' not in res.stderr, tail(res)
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert lines and lines[-1].startswith('error: '), tail(res)
    assert sum(ln.startswith('error: ') for ln in lines) == 1, tail(res)
    for needle in needles:
        assert needle in lines[-1], (needle, lines[-1])
    return lines[-1]


def test_unknown_config_key(workspace):
    res = run([
        TRAIN, TINY, '--work-dir', workspace / 'bad_key', '--cfg-options',
        'optim_wraper.optimizer.lr=0.1'
    ], workspace)
    assert_one_line_error(res, 'unknown config key', 'optim_wraper')


def test_missing_weights_directory(workspace):
    res = run([
        TRAIN, TINY, '--work-dir', workspace / 'no_weights', '--cfg-options',
        'model.llm.name_or_path=weights/no-such-llm',
        'model.llm.model_cfg=None'
    ], workspace)
    assert_one_line_error(res, 'weights/no-such-llm', 'not found')


def test_resume_from_missing_checkpoint(workspace):
    res = run([
        TRAIN, TINY, '--work-dir', workspace / 'no_resume', '--resume',
        'no/such/iter_4.pth'
    ], workspace)
    assert_one_line_error(res, '--resume', 'no/such/iter_4.pth')


def test_checkpoint_of_another_model(workspace):
    path = workspace / 'other_model.pth'
    other = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Linear(8, 2))
    torch.save(dict(state_dict=other.state_dict(), meta=dict()), path)
    res = run([
        TEST, TINY, path, '--work-dir', workspace / 'other_model'
    ], workspace)
    assert_one_line_error(res, 'other_model.pth', 'does not match')


def test_infer_missing_image(workspace, trained):
    res = run([
        INFER, TINY, trained / f'iter_{MAX_ITERS}.pth', '--img',
        'data/cornershapes/images/val/no_such.png', '--out-dir',
        workspace / 'no_image'
    ], workspace)
    assert_one_line_error(res, 'image not found', 'no_such.png')


def test_checkpoint_check_function():
    """Matching, another model, shape mismatch, a DDP ``module.`` prefix."""
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    state = model.state_dict()
    report = check_checkpoint_matches(model, dict(state_dict=state))
    assert report == dict(missing=[], unexpected=[])
    ddp = {f'module.{k}': v for k, v in state.items()}
    check_checkpoint_matches(model, dict(state_dict=ddp))
    with pytest.raises(CheckpointMismatchError, match='0 of the model'):
        check_checkpoint_matches(
            model, dict(state_dict=nn.Linear(2, 2).state_dict()), name='x')
    wrong = dict(state, **{'0.weight': torch.zeros(3, 5)})
    with pytest.raises(CheckpointMismatchError,
                       match=r'0\.weight: \(3, 5\) in the checkpoint, '
                       r'\(3, 4\) in the model'):
        check_checkpoint_matches(model, dict(state_dict=wrong))


# -------------------------------------------------- infer, test, TensorBoard
def test_infer_writes_answers_and_picture(workspace, trained):
    out = workspace / 'infer'
    img = 'data/cornershapes/images/val/000001.png'
    questions = ['How many circles are there?', 'Is there a red square?']
    res = run([
        INFER, TINY, trained / f'iter_{MAX_ITERS}.pth', '--img', img,
        '--question', *questions, '--out-dir', out, '--score-thr', '0'
    ], workspace)
    assert res.returncode == 0, tail(res)
    results = json.loads((out / 'results.json').read_text())
    assert len(results) == 1 and results[0]['image'] == img
    assert [a['question'] for a in results[0]['answers']] == questions
    assert all(isinstance(a['answer'], str) for a in results[0]['answers'])
    dets = results[0]['detections']
    assert dets, 'score-thr 0 keeps every detection'
    for det in dets:
        assert det['label'] in ('circle', 'square', 'triangle')
        assert len(det['bbox']) == 4 and 0 <= det['score'] <= 1
    picture = out / '000001.jpg'
    assert picture.is_file() and picture.stat().st_size > 0
    # the timing split, and perception once for the image however many
    # questions
    assert 'timing for 1 image(s) x 2 question(s)' in res.stdout
    for part in ('detector.extract', 'detector.head', 'llm',
                 'vision_encoder'):
        assert re.search(rf'{re.escape(part)}\s+[\d.]+ s', res.stdout), part
    for part in ('detector.extract', 'detector.head'):
        assert f'{part} ran 1 time(s) on 1 image(s) for 1 image(s)' \
            in res.stdout, res.stdout[-2000:]


def test_test_tool_dumps_predictions_and_prints_metrics(workspace, trained):
    out = workspace / 'test_out' / 'results.pkl'
    res = run([
        TEST, TINY, trained / f'iter_{MAX_ITERS}.pth', '--work-dir',
        workspace / 'test_out', '--out', out
    ], workspace)
    assert res.returncode == 0, tail(res)
    logs = res.stdout + res.stderr
    assert re.search(r'coco/bbox_mAP: [\d.]+', logs), logs[-3000:]
    assert re.search(r'vqa/acc: [\d.]+', logs), logs[-3000:]
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 8  # the val split
    assert all('pred_instances' in p and 'pred_answers' in p for p in preds)
    assert sum(len(p['pred_answers']) for p in preds) == sum(
        len(p['questions']) for p in preds) > 0


def test_tensorboard_has_losses_lr_answers_and_images(trained):
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )
    events = glob.glob(
        osp.join(last_run_dir(trained), 'vis_data', 'events.out.tfevents.*'))
    assert len(events) == 1, events
    acc = EventAccumulator(
        events[0], size_guidance=dict(scalars=0, images=0, tensors=0))
    acc.Reload()
    tags = acc.Tags()
    for tag in ('loss', 'lr', 'lm.loss_lm', 'det.loss_cls', 'coco/bbox_mAP',
                'vqa/acc'):
        assert tag in tags['scalars'], (tag, tags['scalars'])
    assert [e.step for e in acc.Scalars('loss')] == list(
        range(1, MAX_ITERS + 1))
    # AnswerLoggingHook: questions with predicted and true answers
    text = acc.Tensors('val/answers/text_summary')[0]
    text = text.tensor_proto.string_val[0].decode('utf-8', 'replace')
    assert 'Q: ' in text and '| pred: ' in text and '| gt: ' in text
    # the visualization hook: a validation image with boxes
    assert tags['images'], tags
    image = acc.Images(tags['images'][0])[0]
    assert image.width > 0 and image.height > 0


def test_test_tool_split_option():
    """``--split NAME`` tests the config's ``NAME_dataset`` with its
    evaluator, or val's for a split of val's images."""
    import importlib.util

    from mmengine.config import Config

    from mmmrmllm.utils.config import ConfigError
    spec = importlib.util.spec_from_file_location('test_tool', TEST)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    cfg = Config.fromfile(TINY)
    tool.use_split(cfg, 'val_phrasing')
    data = cfg.test_dataloader.dataset
    assert (data.ann_file, data.question_file) == (
        'annotations/val.json', 'questions/val_phrasing.json')
    assert cfg.test_evaluator == cfg.val_evaluator
    tool.use_split(cfg, 'corner')
    assert cfg.test_dataloader.dataset.ann_file == 'annotations/corner.json'
    assert cfg.test_evaluator.metrics[0].ann_file.endswith(
        'annotations/corner.json')
    with pytest.raises(ConfigError, match=r"no `val_phrase_dataset`; its "
                       r"splits: \['corner', 'val', 'val_phrasing'\]"):
        tool.use_split(cfg, 'val_phrase')


def test_corner_is_one_flag_on_the_joint_config(tmp_path):
    """``--split corner`` on the joint config of ``make demo`` sets what the
    three ``--cfg-options`` (dataset annotations, questions, the COCO
    metric's annotations) once did."""
    import importlib.util

    from mmengine.config import Config
    spec = importlib.util.spec_from_file_location('test_tool_corner', TEST)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    joint = osp.join(ROOT, 'configs', 'mrmllm',
                     'mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes.py')
    ckpt = tmp_path / 'iter_250.pth'
    ckpt.write_bytes(b'')
    cfg = tool.build_config(tool.parse_args([joint, str(ckpt), '--split',
                                             'corner']))
    old = Config.fromfile(joint)
    old.merge_from_dict({
        'test_dataloader.dataset.ann_file': 'annotations/corner.json',
        'test_dataloader.dataset.question_file': 'questions/corner.json',
        'test_evaluator.metrics.0.ann_file':
        'data/cornershapes/annotations/corner.json'})
    assert cfg.test_dataloader.dataset == old.test_dataloader.dataset
    assert cfg.test_evaluator == old.test_evaluator
    assert cfg.test_evaluator.metrics[0].ann_file == \
        'data/cornershapes/annotations/corner.json'
