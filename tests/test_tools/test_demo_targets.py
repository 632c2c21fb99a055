"""``tools/demo.py``'s verdict: a table of targets, each PASS or MISS; a job
that ran to the end exits 0 whatever its targets, ``--strict`` makes a
missed one its exit status. The job's stages are stubbed: what is tested is
the judging, the table and the exit status."""
import importlib.util
import json
import os.path as osp

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def demo():
    spec = importlib.util.spec_from_file_location(
        'demo_targets', osp.join(ROOT, 'tools', 'demo.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def split(demo, acc):
    """A split's summary with every VQA accuracy ``acc``."""
    return dict(bbox_mAP=0.9, AR_corner=0.5, AR_common=0.9, vqa_acc=acc,
                vqa_acc_by_type={t: acc for t in demo.QUESTION_TYPES},
                questions=100, empty_answers=0, wrong_type=0,
                majority=0.4, majority_by_type={
                    t: 0.4 for t in demo.QUESTION_TYPES})


def splits(demo, acc):
    return {name: split(demo, acc) for name in demo.SPLITS}


def test_the_targets_are_the_issues(demo):
    """The bars themselves never move (a MISS is not fixed by lowering
    one)."""
    assert demo.TARGETS == (
        ('mllm_zero_shot', 'vqa_acc_by_type.colour', 'val', 0.80),
        ('mllm_zero_shot', 'vqa_acc', 'val', 0.55),
        ('splits', 'bbox_mAP', 'val', 0.80),
        ('splits', 'vqa_acc', 'val', 0.80),
        ('splits', 'vqa_acc_by_type.counting', 'val', 0.85),
        ('splits', 'vqa_acc_by_type.shape_at_position', 'val', 0.85),
        ('splits', 'vqa_acc_by_type.colour', 'val', 0.80),
        ('splits', 'vqa_acc_by_type.existence', 'val', 0.70),
        ('splits', 'vqa_acc_by_type.relative_position', 'val', 0.70),
        ('splits', 'vqa_acc', 'corner', 0.60))
    assert (demo.SPREAD_TARGET, demo.PHRASING_GAP, demo.PHRASING_GAP_BY_TYPE,
            demo.WRONG_TYPE_SHARE) == (0.1, 0.03, 0.05, 0.01)


def test_table_and_exit_status(demo, capsys):
    met = dict(splits=splits(demo, 0.9), mllm_zero_shot=dict(
        val=split(demo, 0.9)), soft_token_spread=0.5)
    rows = demo.judge_targets(met)
    # the phrasing checks: the VQA gap, each type's, empty and wrong-type
    # answers on each split
    assert len(rows) == len(demo.TARGETS) + 1 + \
        1 + len(demo.QUESTION_TYPES) + 2 * len(demo.SPLITS)
    assert all(row[-1] for row in rows)
    demo.print_targets(rows)
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ['target', 'value', 'bound', 'result']
    assert out[1].split() == ['mllm_zero_shot', 'val',
                              'vqa_acc_by_type.colour', '0.900', '>=', '0.8',
                              'PASS']
    assert out[-1] == f'targets: {len(rows)} PASS, 0 MISS'
    for strict in (False, True):
        assert demo.exit_status(rows, strict) == 0

    missed = dict(met, soft_token_spread=None, splits=dict(
        met['splits'], corner=split(demo, 0.5)))
    rows = demo.judge_targets(missed)
    assert [row[0] for row in rows if not row[-1]] == [
        'splits corner vqa_acc', 'soft-token spread across images']
    demo.print_targets(rows)
    out = capsys.readouterr().out.splitlines()
    assert ['splits', 'corner', 'vqa_acc', '0.500', '>=', '0.6',
            'MISS'] in [line.split() for line in out]
    assert out[-2].split()[-3:] == ['>=', '0.1', 'MISS']
    assert out[-2].split()[-4] == 'none'
    assert out[-1].startswith(f'targets: {len(rows) - 2} PASS, 2 MISS')
    assert '--strict' in out[-1]
    assert demo.exit_status(rows) == 0
    assert demo.exit_status(rows, strict=True) == demo.MISSED_TARGET_STATUS
    assert demo.MISSED_TARGET_STATUS != 0
    # --smoke's sizes judge nothing
    assert demo.exit_status(rows, strict=True, smoke=True) == 0


def stub_the_job(demo, monkeypatch, acc):
    """Every step of ``main`` that trains or evaluates answers at once, with
    VQA accuracy ``acc`` on every split."""
    from mmmrmllm.registry import MODELS
    done = dict(outputs=None, minutes=0.1, cached=True, metrics={})
    probe = dict(detector=None, mllm=None, minutes=0.1,
                 chance=dict(corner_looks=0.4, corner=0.4, val=0.4))
    monkeypatch.setattr(demo, 'ensure_data', lambda *a: {})
    monkeypatch.setattr(demo, 'run_stage', lambda name, config, root, out,
                        *a, **k: dict(done, outputs={
                            k: f'stages/{v}' for k, v in out.items()}))
    monkeypatch.setattr(demo, 'joint_config', lambda *a: Config(dict(
        model=dict(), train_cfg=dict(max_iters=3))))
    monkeypatch.setattr(demo, 'train_and_evaluate', lambda *a, **k: (
        splits(demo, acc), dict(gates={}, soft_token_spread=0.5,
                                probe=probe), 0.1, 0.1))
    monkeypatch.setattr(demo, 'probe', lambda *a, **k: dict(probe))
    monkeypatch.setattr(demo, 'export_for_inference', lambda cfg, d: dict(
        config=f'{d}/config.py', checkpoint=f'{d}/iter_3.pth'))
    monkeypatch.setattr(MODELS, 'build', lambda cfg: None)


@pytest.mark.parametrize('acc, strict, status', [
    (0.5, False, 0), (0.5, True, 3), (0.95, True, 0)])
def test_a_finished_job_exits_0_unless_strict_and_missed(
        demo, monkeypatch, tmp_path, capsys, acc, strict, status):
    stub_the_job(demo, monkeypatch, acc)
    argv = ['--work-dir', str(tmp_path)] + (['--strict'] if strict else [])
    assert demo.main(argv) == status
    out = capsys.readouterr().out
    missed = [line for line in out.splitlines() if line.endswith(' MISS')
              and not line.startswith('targets:')]
    assert bool(missed) == (acc < 0.8), missed
    assert ('targets: 23 PASS, 0 MISS' in out) == (acc > 0.8)
    summary = json.loads((tmp_path / 'summary.json').read_text())
    assert summary['targets']['splits.corner.vqa_acc'] == 0.6


def test_bad_input_still_fails(demo, tmp_path):
    with pytest.raises(SystemExit) as err:
        demo.parse_args(['--max-iters', 'many'])
    assert err.value.code == 2
    with pytest.raises(FileNotFoundError, match='no-such.pth'):
        demo.main(['--work-dir', str(tmp_path), '--det-checkpoint',
                   str(tmp_path / 'no-such.pth')])
