import argparse
import os
import os.path as osp
import pickle
import subprocess
import sys

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmmrmllm.utils.compat import load_checkpoint_file

from .toy import ToyDataset, ToyModel

HERE = osp.dirname(osp.abspath(__file__))


class RecordHook(Hook):
    """Record the loss and learning rate of every iteration."""

    def __init__(self):
        self.records = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        lr = runner.optim_wrapper.get_lr()['lr'][0]
        self.records.append((runner.iter, outputs['loss'].item(), lr))


def _runner(work_dir, max_iters, resume=False):
    hook = RecordHook()
    runner = Runner(
        model=ToyModel(),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=2,
            num_workers=0),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[3], gamma=0.5,
                             by_epoch=False),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=2,
                            by_epoch=False)),
        custom_hooks=[hook],
        randomness=dict(seed=0),
        resume=resume,
        default_scope='mmmrmllm')
    return runner, hook


def test_resume_matches_uninterrupted_run(tmp_path):
    full, full_hook = _runner(str(tmp_path / 'full'), max_iters=6)
    full.train()

    part, part_hook = _runner(str(tmp_path / 'part'), max_iters=4)
    part.train()
    ckpt = str(tmp_path / 'part' / 'iter_4.pth')
    # The fix is needed: plain torch.load refuses MMEngine's own checkpoint.
    with pytest.raises(pickle.UnpicklingError):
        torch.load(ckpt)

    resumed, resumed_hook = _runner(
        str(tmp_path / 'part'), max_iters=6, resume=True)
    resumed.train()

    assert [r[0] for r in resumed_hook.records] == [4, 5]
    expected = full_hook.records[4:]
    for (it, loss, lr), (eit, eloss, elr) in zip(resumed_hook.records,
                                                  expected):
        assert it == eit
        assert loss == pytest.approx(eloss, abs=1e-7)
        assert lr == pytest.approx(elr)
    full_state = full.optim_wrapper.optimizer.state_dict()['state']
    resumed_state = resumed.optim_wrapper.optimizer.state_dict()['state']
    for key in full_state:
        torch.testing.assert_close(full_state[key]['momentum_buffer'],
                                   resumed_state[key]['momentum_buffer'])
    for p_full, p_res in zip(full.model.parameters(),
                             resumed.model.parameters()):
        torch.testing.assert_close(p_full, p_res)


def test_unsafe_checkpoint_error_names_file(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save({'obj': argparse.Namespace(a=1)}, path)
    with pytest.raises(RuntimeError, match='evil.pth'):
        load_checkpoint_file(path)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_checkpoint_file(str(tmp_path / 'missing.pth'))


def _final_weights(path):
    return torch.load(path, weights_only=True)


@pytest.mark.slow
def test_two_cpu_processes_match_one_process(tmp_path):
    worker = osp.join(HERE, 'ddp_worker.py')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    ddp_out = str(tmp_path / 'ddp.pth')
    single_out = str(tmp_path / 'single.pth')
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
        '2', '--master_port', '29517', worker, ddp_out, '1', 'pytorch'
    ]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    res = subprocess.run(
        [sys.executable, worker, single_out, '2', 'none'],
        env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]

    ddp, single = _final_weights(ddp_out), _final_weights(single_out)
    init = ToyModel().state_dict()
    assert not torch.allclose(single['linear.weight'], init['linear.weight'])
    for key in single:
        torch.testing.assert_close(ddp[key], single[key], atol=1e-6,
                                   rtol=1e-6)
    assert ddp.keys() == single.keys()


class _Evil:
    """Unpickling this creates a folder: code run from a checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker, ))


@pytest.fixture
def evil_cache(tmp_path, monkeypatch):
    """A malicious pickle in torch's download cache under the names that a
    URL, ``open-mmlab://`` and a detector checkpoint URL resolve to."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    cache = tmp_path / 'torch' / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    marker = tmp_path / 'pwned'
    for name in ('evil.pth', 'resnet50_v1c-2cccc1ad.pth'):
        torch.save(dict(state_dict={'w': torch.zeros(1)},
                        meta=_Evil(str(marker))), cache / name)
    return marker


def test_url_checkpoints_never_run_code(evil_cache):
    from mmengine.runner.checkpoint import (
        CheckpointLoader,
        get_external_models,
    )

    import mmmrmllm  # noqa: F401 - applies the fixes
    assert get_external_models()['resnet50_v1c'].endswith(
        'resnet50_v1c-2cccc1ad.pth')
    for url in ('http://example.invalid/evil.pth',
                'https://example.invalid/models/evil.pth?x=1',
                'open-mmlab://resnet50_v1c'):
        with pytest.raises(RuntimeError, match='cannot load checkpoint'):
            CheckpointLoader.load_checkpoint(url, map_location='cpu')
        assert not evil_cache.exists(), f'{url} ran code'


def test_url_checkpoint_in_the_model_and_runner_paths(evil_cache):
    from mmengine.runner import load_checkpoint

    import mmmrmllm  # noqa: F401
    with pytest.raises(RuntimeError, match='cannot load checkpoint'):
        load_checkpoint(torch.nn.Linear(1, 1),
                        'https://example.invalid/evil.pth')
    from mmmrmllm.models.detector_setup import load_detector_checkpoint
    with pytest.raises(RuntimeError, match='cannot load checkpoint'):
        load_detector_checkpoint(torch.nn.Linear(1, 1),
                                 'http://example.invalid/evil.pth')
    assert not evil_cache.exists()
    # a safe checkpoint by URL still loads (from the cache, offline)
    cache = evil_cache.parent / 'torch' / 'hub' / 'checkpoints'
    torch.save(dict(state_dict={'weight': torch.ones(1, 1),
                                'bias': torch.zeros(1)}), cache / 'ok.pth')
    lin = torch.nn.Linear(1, 1)
    load_checkpoint(lin, 'https://example.invalid/ok.pth')
    assert lin.weight.item() == 1.0


def test_killed_save_leaves_the_previous_checkpoint(tmp_path):
    """A kill half-way through writing a checkpoint (max_keep_ckpts=1):
    the previous checkpoint is still there and complete, nothing truncated
    sits under a checkpoint's name, and training resumes from it."""
    work = tmp_path / 'work'
    res = subprocess.run(
        [sys.executable, osp.join(HERE, 'killed_save_worker.py'),
         str(work)], capture_output=True, text=True)
    assert res.returncode == 9, res.stderr[-2000:]
    assert not (work / 'iter_4.pth').exists()
    ckpt = load_checkpoint_file(str(work / 'iter_2.pth'))
    assert ckpt['meta']['iter'] == 2
    resumed, hook = _runner(str(work), max_iters=4, resume=True)
    resumed.train()
    assert [r[0] for r in hook.records] == [2, 3]


def test_ssd_head_can_predict():
    """mmdet 3.3's SSDHead has no loss_cls, which decoding reads (#11780)."""
    from mmdet.models.dense_heads import SSDHead
    from mmengine.config import ConfigDict
    head = SSDHead(num_classes=3, in_channels=(8, 8, 8), stacked_convs=0,
                   anchor_generator=dict(
                       type='SSDAnchorGenerator', scale_major=False,
                       input_size=300, basesize_ratio_range=(0.2, 0.9),
                       strides=[16, 32, 64], ratios=[[2], [2], [2]]),
                   test_cfg=ConfigDict(nms=dict(type='nms',
                                                iou_threshold=0.45),
                                       min_bbox_size=0, score_thr=0.0,
                                       max_per_img=5))
    feats = (torch.rand(1, 8, 4, 4), torch.rand(1, 8, 2, 2),
             torch.rand(1, 8, 1, 1))
    meta = dict(img_shape=(64, 64), scale_factor=(1.0, 1.0))
    res = head.predict_by_feat(*head(feats), batch_img_metas=[meta])
    assert res[0].bboxes.shape[1] == 4 and len(res[0]) > 0


def test_package_scope_config_inheritance(monkeypatch):
    """Fix 4: a project config inherits the main job through
    ``mmmrmllm.configs`` (mmdet projects: ``mmdet.configs``); MMEngine's
    own package lookup needs pkg_resources, which setuptools no longer
    ships."""
    import importlib.util

    import mmengine.config.config as mm_config
    from mmengine.config import Config
    from mmengine.utils import package_utils

    import mmmrmllm  # noqa: F401
    root = osp.dirname(osp.dirname(HERE))
    project = osp.join(root, 'projects', 'MRMLLM_FCOS', 'configs',
                       'mrmllm_fcos_r18_llama_4l_1xb8_250i_cornershapes.py')
    main = osp.join(root, 'configs', 'mrmllm',
                    'mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes.py')
    cfg, base = Config.fromfile(project), Config.fromfile(main)
    assert cfg.model.detector.type.__name__ == 'FCOS'
    assert cfg.model.llm == base.model.llm
    assert cfg.train_dataloader == base.train_dataloader
    if importlib.util.find_spec('pkg_resources') is None:
        monkeypatch.setattr(mm_config, 'get_installed_path',
                            package_utils.get_installed_path)
        with pytest.raises(ModuleNotFoundError, match='pkg_resources'):
            Config.fromfile(project)
