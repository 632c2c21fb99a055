"""The main job's per-seed outputs as Markdown: the knowledge probe before
joint training (printed by make demo and tabulated over seeds), stage
minutes with reused / resumed stages marked, and the issue's targets
judged on every seed."""
import json
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
sys.path.insert(0, osp.join(ROOT, 'tools'))

import demo  # noqa: E402
import demo_seeds  # noqa: E402


def probe(det, mllm, val=0.9):
    return dict(detector=dict(corner_looks=det, corner=det + 0.01,
                              val=0.8, train=0.9),
                mllm=dict(corner_looks=mllm, corner=mllm + 0.01, val=val,
                          train=0.9),
                chance=dict(corner_looks=0.36, corner=0.3, val=0.3),
                minutes=0.5)


def summary(seed, det, mllm, after, cached=False, resumed=None):
    split = dict(vqa_acc=0.7, vqa_acc_by_type=dict(colour=0.9))
    return dict(
        seed=seed,
        knowledge_probe=dict(before_joint=probe(det, mllm),
                             after_joint=probe(det, after), seed=seed),
        mllm_zero_shot=dict(val=split, corner=dict(
            vqa_acc=0.65, vqa_acc_by_type=dict(colour=0.75))),
        mllm_only=dict(val=dict(vqa_acc=0.61, vqa_acc_by_type={})),
        splits=dict(val=split),
        minutes=dict(data_generation=0.4, mllm_pretrain=20.0, joint=9.0),
        cached=dict(mllm_pretrain=cached),
        stages=dict(mllm_pretrain=dict(minutes=20.0, cached=cached,
                                       resumed_from_iter=resumed)))


def test_probe_printed_by_the_demo_as_a_table_row(capsys):
    demo.print_probe('before joint training', probe(0.54, 0.71), 3)
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith('detector 0.540 / 0.550 / 0.800, mllm 0.710 / '
                           '0.720 / 0.900 (chance 0.360)')
    assert out[1] == '| seed | features | corner_looks | corner | val |'
    assert out[3] == '| 3 | mllm | 0.710 | 0.720 | 0.900 |'
    stage = dict(outputs={}, minutes=12.5, metrics={'vqa/acc': 0.5},
                 cached=True, resumed_from_iter=1000)
    assert demo.stage_summary(stage, '/c/1c') == dict(
        dir='/c/1c', metrics={'vqa/acc': 0.5}, minutes=12.5, cached=True,
        resumed_from_iter=1000)
    run = summary(0, 0.5, 0.6, 0.6, resumed=1500)
    assert demo.stage_note(run, 'mllm_pretrain') == ' (resumed at 1500)'
    assert demo.stage_note(run, 'joint') == ''
    run['cached']['mllm_pretrain'] = True
    assert demo.stage_note(run, 'mllm_pretrain') == ' (cached)'


def test_seeds_tabulated_and_targets_judged_on_every_seed(tmp_path,
                                                          capsys):
    files = []
    for s in (summary(1, 0.50, 0.60, 0.62, resumed=1500),
              summary(0, 0.50, 0.70, 0.70, cached=True)):
        path = tmp_path / f'seed{s["seed"]}.json'
        path.write_text(json.dumps(s))
        files.append(str(path))
    out_file = tmp_path / 'seeds.md'
    assert demo_seeds.main(files + ['--out', str(out_file)]) == 0
    out = capsys.readouterr().out
    assert out == out_file.read_text()
    lines = out.splitlines()
    # seeds in order, then the mean ± half the range
    mllm = [ln for ln in lines if '| mllm |' in ln][:3]
    assert mllm == ['| 0 | mllm | 0.700 | 0.710 | 0.900 |',
                    '| 1 | mllm | 0.600 | 0.610 | 0.900 |',
                    '| mean | mllm | 0.650 ± 0.050 | 0.660 ± 0.050 | '
                    '0.900 ± 0.000 |']
    assert '| 0 | 0.4 | 20.0 (reused) | 9.0 |' in lines
    assert '| 1 | 0.4 | 20.0 (resumed at 1500) | 9.0 |' in lines
    # margin 0.20 on seed 0 but 0.10 on seed 1: not met
    row = next(ln for ln in lines if 'MLLM - detector' in ln)
    assert row.endswith('| 0.200 | 0.100 | no |'), row
    row = next(ln for ln in lines if 'after - before' in ln)
    assert row.endswith('| 0.000 | 0.020 | yes |'), row
    row = next(ln for ln in lines if 'corner vqa_acc >=' in ln)
    assert row.endswith('| 0.650 | 0.650 | yes |'), row
