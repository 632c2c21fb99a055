"""Cached training stages: built once, reused, rebuilt when config, data or
code change, resumed after an interruption."""
import json
import os
import os.path as osp
import shutil

import pytest
from mmengine.config import Config

from mmmrmllm.utils import stages
from mmmrmllm.utils.stages import Stage, cache_root


def _data(root):
    os.makedirs(osp.join(root, 'tokenizer'), exist_ok=True)
    with open(osp.join(root, 'stats.json'), 'w') as f:
        json.dump(dict(seed=0), f)
    with open(osp.join(root, 'tokenizer', 'tokenizer.json'), 'w') as f:
        f.write('{}')
    return root


def _train(calls):
    def train(cfg):
        calls.append(cfg.work_dir)
        assert cfg.work_dir.endswith('.partial') and cfg.resume is True
        with open(osp.join(cfg.work_dir, 'out.pth'), 'w') as f:
            f.write(str(cfg.lr))
        return dict(mAP=0.5)
    return train


def test_stage_runs_once_and_is_keyed_by_config_and_data(tmp_path):
    data = _data(str(tmp_path / 'data'))
    root = str(tmp_path / 'cache')
    calls = []
    cfg = Config(dict(lr=0.1, data_root=data + '/'))
    first = Stage('det', cfg, data, dict(ckpt='out.pth'), root).run(
        _train(calls))
    assert not first['cached'] and len(calls) == 1
    assert first['metrics'] == dict(mAP=0.5)
    assert open(first['outputs']['ckpt']).read() == '0.1'
    again = Stage('det', Config(dict(lr=0.1, data_root=data + '/')), data,
                  dict(ckpt='out.pth'), root).run(_train(calls))
    assert again['cached'] and len(calls) == 1
    assert again['outputs'] == first['outputs']
    # another config, or other data: another stage
    Stage('det', Config(dict(lr=0.2, data_root=data + '/')), data,
          dict(ckpt='out.pth'), root).run(_train(calls))
    assert len(calls) == 2
    with open(osp.join(data, 'stats.json'), 'w') as f:
        json.dump(dict(seed=1), f)
    Stage('det', Config(dict(lr=0.1, data_root=data + '/')), data,
          dict(ckpt='out.pth'), root).run(_train(calls))
    assert len(calls) == 3


def test_the_data_path_does_not_matter_its_content_does(tmp_path):
    a = _data(str(tmp_path / 'a'))
    b = _data(str(tmp_path / 'b'))
    key_a = Stage('s', Config(dict(data_root=a + '/')), a, {}).key
    key_b = Stage('s', Config(dict(data_root=b + '/')), b, {}).key
    assert key_a == key_b


def test_code_change_changes_the_key(tmp_path, monkeypatch):
    data = _data(str(tmp_path / 'data'))
    cfg = Config(dict(lr=0.1))
    key = Stage('s', cfg, data, {}).key
    monkeypatch.setattr(stages, 'code_fingerprint',
                        lambda cfg: {'mmmrmllm/x.py': 'other code'})
    assert Stage('s', cfg, data, {}).key != key


PRETRAIN = osp.join(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))), 'configs', 'pretrain')
DET = 'dino_r18_1xb8_250i_cornershapes_det.py'
LM = 'llama_4l_1xb12_2500i_cornershapes_text.py'
MLLM = 'instructblip_llama_4l_1xb32_2000i_cornershapes_vl.py'


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A copy of the package's source, read by the stage keys, to edit."""
    from mmmrmllm.utils import code_deps
    src = code_deps.PACKAGE_DIR
    dst = str(tmp_path / 'src' / 'mmmrmllm')
    shutil.copytree(src, dst, symlinks=True,
                    ignore=shutil.ignore_patterns('__pycache__'))
    monkeypatch.setattr(code_deps, 'PACKAGE_DIR', dst)

    def edit(rel):
        with open(osp.join(dst, rel), 'a') as f:
            f.write('\n# edited\n')
    return edit


def _stages(data, root):
    """Stages 1a, 1b and 1c as ``tools/demo.py`` chains them (1c reads
    1b's output folder)."""
    out = {}
    for name, config in (('detector', DET), ('language', LM)):
        cfg = Config.fromfile(osp.join(PRETRAIN, config))
        out[name] = Stage(name, cfg, data, dict(ckpt='out.pth'), root)
    cfg = Config.fromfile(osp.join(PRETRAIN, MLLM))
    cfg.model.llm.name_or_path = osp.join(out['language'].dir, 'out.pth')
    out['mllm'] = Stage('mllm', cfg, data, dict(ckpt='out.pth'), root)
    assert out['mllm'].parts['inputs'] == dict(language=out['language'].key)
    return out


def _fake_train(cfg):
    with open(osp.join(cfg.work_dir, 'out.pth'), 'w') as f:
        f.write('weights')


def test_edits_retrain_the_stages_that_run_them(tmp_path, package):
    """An edit to the web demo's inferencer (no stage runs it) keeps every
    stage; one to the DETR adapter retrains stage 1a alone (no cached
    stage reads 1a's output); one to the language pre-trainer retrains
    1b and, reading 1b's output, 1c."""
    data = _data(str(tmp_path / 'data'))
    root = str(tmp_path / 'cache')
    first = _stages(data, root)
    for stage in first.values():
        assert stage.reason() in ('', 'no cached run of this stage')
        stage.run(_fake_train)
    assert all(s.reason() == '' for s in _stages(data, root).values())

    package('apis/inferencer.py')
    again = _stages(data, root)
    assert {n: s.key for n, s in again.items()} == \
        {n: s.key for n, s in first.items()}
    assert all(s.cached() is not None for s in again.values())

    package('models/det_adapters/detr.py')
    after = _stages(data, root)
    assert after['detector'].cached() is None
    assert after['detector'].reason() == (
        'code changed: mmmrmllm/models/det_adapters/detr.py')
    assert after['language'].cached() is not None
    assert after['mllm'].cached() is not None

    package('models/language_pretrainer.py')
    after = _stages(data, root)
    assert after['language'].reason() == (
        'code changed: mmmrmllm/models/language_pretrainer.py')
    after['language'].run(_fake_train)
    after = _stages(data, root)
    assert after['language'].cached() is not None
    assert after['mllm'].reason() == 'input stage language changed'


def test_interrupted_stage_resumes_in_its_partial_folder(tmp_path):
    data = _data(str(tmp_path / 'data'))
    root = str(tmp_path / 'cache')
    stage = Stage('lm', Config(dict(lr=0.1)), data, dict(ckpt='out.pth'),
                  root)

    def killed(cfg):
        with open(osp.join(cfg.work_dir, 'iter_1.pth'), 'w') as f:
            f.write('half')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stage.run(killed)
    assert stage.cached() is None
    seen = []

    def resumed(cfg):
        seen.extend(os.listdir(cfg.work_dir))
        with open(osp.join(cfg.work_dir, 'out.pth'), 'w') as f:
            f.write('done')

    record = stage.run(resumed)
    assert seen == ['iter_1.pth'] and not record['cached']
    assert not osp.exists(stage.dir + '.partial')


def test_resumed_stage_records_its_checkpoint_and_every_attempt(tmp_path):
    """A stage resumed after a kill says from which iteration, and its
    minutes count the killed attempt (until the last file it wrote) too,
    as the summary of the main job reports them."""
    data = _data(str(tmp_path / 'data'))
    stage = Stage('vl', Config(dict(lr=0.1)), data, dict(ckpt='out.pth'),
                  str(tmp_path / 'cache'))
    partial = stage.dir + '.partial'

    def killed(cfg):
        ckpt = osp.join(cfg.work_dir, 'iter_500.pth')
        with open(ckpt, 'w') as f:
            f.write('half')
        with open(osp.join(cfg.work_dir, 'last_checkpoint'), 'w') as f:
            f.write(ckpt)
        with open(partial + '.attempts.json') as f:
            start = json.load(f)[0]['start']
        os.utime(ckpt, (start + 180, start + 180))  # ran 3 minutes
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stage.run(killed)

    def resumed(cfg):
        with open(osp.join(cfg.work_dir, 'out.pth'), 'w') as f:
            f.write('done')

    record = stage.run(resumed)
    assert record['resumed_from_iter'] == 500
    assert 3.0 <= record['minutes'] < 3.5
    assert not osp.exists(partial + '.attempts.json')
    # reused from the cache: the training run's record
    again = stage.run(resumed)
    assert again['cached'] and again['minutes'] == record['minutes']
    assert again['resumed_from_iter'] == 500
    fresh = Stage('vl', Config(dict(lr=0.2)), data, dict(ckpt='out.pth'),
                  str(tmp_path / 'cache')).run(resumed)
    assert fresh['resumed_from_iter'] is None and fresh['minutes'] < 0.5


def test_missing_output_is_an_error(tmp_path):
    data = _data(str(tmp_path / 'data'))
    stage = Stage('x', Config(dict(a=1)), data, dict(ckpt='nothing.pth'),
                  str(tmp_path / 'c'))
    with pytest.raises(RuntimeError, match='nothing.pth'):
        stage.run(lambda cfg: None)


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv('MMMRMLLM_CACHE_DIR', str(tmp_path))
    assert cache_root() == osp.join(str(tmp_path), 'stages')
    monkeypatch.delenv('MMMRMLLM_CACHE_DIR')
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    assert cache_root() == osp.join(str(tmp_path), 'xdg', 'mmmrmllm',
                                    'stages')
