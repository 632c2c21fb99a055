"""The claim study's wiring (issue 21), training mocked: its rows and
seeds, rows from configs (``--extra``), every run on stage 1a's detector
and stage 1c's MLLM as the main job gets them, the knowledge probe and the
CPU minutes in the results, the targets' verdicts."""
import json
import os.path as osp
import re
import sys
import types

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
sys.path.insert(0, osp.join(ROOT, 'tools'))

import ablation_grid as grid  # noqa: E402
import ablation_study as study  # noqa: E402
import demo  # noqa: E402

STAGES = dict(checkpoint='/stages/1a/iter_250.pth',
              hf_instructblip='/stages/1c/hf_instructblip')


def row_config(tmp_path, file, **row):
    path = tmp_path / file
    path.write_text(f'ablation_row = {row!r}\n' if row else 'x = 1\n')
    return str(path)


def test_plan_three_seeds_for_the_main_rows_and_extra_rows(tmp_path,
                                                          capsys):
    args = study.parse_args([])
    assert args.plan == study.PLAN
    seeds = {}
    for v, s in study.PLAN:
        seeds.setdefault(v, []).append(s)
    for v in grid.MAIN:
        assert seeds.pop(v) == [0, 1, 2]
    assert seeds and all(s == [0] for s in seeds.values())
    assert study.PLAN[:6] == [(v, s) for s in (0, 1) for v in grid.MAIN]
    assert study.VARIANTS['mllm_only'].config == grid.MLLM_BASELINE
    assert study.VARIANTS['detector_only'].config == grid.DET_BASELINE

    mine = row_config(tmp_path, 'mine.py')
    other = row_config(tmp_path, 'pooled.py', name='pooled',
                       description='my feedback', seeds=(0, 1))
    args = study.parse_args(['--extra', mine, other, '--only', 'pooled'])
    assert args.rows['mine'].description == f'the config {mine}'
    assert args.rows['pooled'] == grid.Row(other, {}, 'my feedback',
                                            (0, 1))
    # after the grid's rows, before the main rows' last seed
    assert args.plan[-6:] == [('mine', 0), ('pooled', 0), ('pooled', 1),
                              ('mrmllm', 2), ('detector_only', 2),
                              ('mllm_only', 2)]
    assert list(args.rows)[:len(study.VARIANTS)] == list(study.VARIANTS)
    study.print_plan(args, [('pooled', 0)])
    out = capsys.readouterr().out.splitlines()
    assert out[1] == ('[study] row mllm_only (seeds [0, 1, 2]): '
                      f'{grid.MLLM_BASELINE}: '
                      f'{grid.VARIANTS["mllm_only"].description}')
    assert out[-2:] == [f'[study] row pooled (seeds [0, 1]): {other}: '
                        'my feedback', '[study] to run: pooled seed 0']
    taken = row_config(tmp_path, 'taken.py', name='mrmllm')
    with pytest.raises(ValueError, match="'mrmllm' is taken"):
        study.parse_args(['--extra', taken])
    with pytest.raises(SystemExit):
        study.parse_args(['--only', 'pooled'])  # not a row without --extra


def test_runs_start_from_stage_1a_and_1c():
    args = study.parse_args(['--data-root', '/data/cs'])

    def config(variant, seed=1):
        return study.run_config(args, variant, seed, STAGES)

    joint = config('mrmllm')
    assert joint.model.init.detector_checkpoint == STAGES['checkpoint']
    assert joint.model.mllm.pretrained == STAGES['hf_instructblip']
    assert joint.randomness == dict(seed=1)
    assert joint.work_dir == osp.join(
        'work_dirs', 'ablation', f'wiring{study.WIRING}', 'mrmllm_s1_250i')
    assert joint.novel_evaluator.metrics[0].ann_file == \
        '/data/cs/annotations/novel.json'
    # MLLM only: stage 1c fine-tuned, the baseline config's evaluators
    mllm = config('mllm_only')
    assert mllm.model.variant == 'mllm_only'
    assert mllm.model.mllm.pretrained == STAGES['hf_instructblip']
    assert [m.type.__name__ for m in mllm.test_evaluator.metrics] == [
        'VQAAccuracy']
    # detector only: stage 1a fine-tuned, nothing of the MLLM
    det = config('detector_only', 2)
    assert det.model.variant == 'detector_only'
    assert det.model.init.detector_checkpoint == STAGES['checkpoint']
    assert det.model.mllm.pretrained is None
    assert det.randomness == dict(seed=2)
    # an ablation: the switches on the same stage outputs
    gates = config('mrmllm_open_gates')
    assert gates.model.feedback.gate_init == 0.1
    assert gates.model.feedback.num_heads == 8  # updated, not replaced
    assert gates.model.mllm.pretrained == STAGES['hf_instructblip']
    assert config('fusion').model.use_feedback is False


def test_stage_outputs_given_or_from_the_cache(monkeypatch):
    ran = []

    def run_stage(name, config, data_root, outputs, cache_dir, seed=0,
                  update=None, smoke=False):
        if update is not None:
            cfg = types.SimpleNamespace(model=types.SimpleNamespace(
                llm=types.SimpleNamespace(name_or_path=None)))
            update(cfg)
            ran.append((name, cfg.model.llm.name_or_path))
        else:
            ran.append((name, config))
        key = next(iter(outputs))
        return dict(outputs={key: f'/cache/{name}/{outputs[key]}'})

    monkeypatch.setattr(demo, 'run_stage', run_stage)
    monkeypatch.setattr(demo, 'ensure_data', lambda root: {})
    args = study.parse_args([])
    assert study.stage_outputs(args) == dict(
        checkpoint='/cache/detector/iter_250.pth',
        hf_instructblip='/cache/mllm/hf_instructblip')
    # 1c is trained on 1b's LLM, as make demo does
    assert ran == [('detector', demo.DET_CONFIG),
                   ('language', demo.LM_CONFIG),
                   ('mllm', '/cache/language/hf_model')]
    ran.clear()
    args = study.parse_args(['--mllm-dir', ROOT])
    assert study.stage_outputs(args)['hf_instructblip'] == ROOT
    assert ran == [('detector', demo.DET_CONFIG)]


def fake_run(monkeypatch, tmp_path, variant):
    """run_one with training and evaluation mocked; returns its row and
    the config it trained."""
    trained, pope = [], []

    class Runner:
        @staticmethod
        def from_cfg(cfg):
            trained.append(cfg)
            return types.SimpleNamespace(train=lambda: None)

    import mmengine.runner
    monkeypatch.setattr(mmengine.runner, 'Runner', Runner)
    monkeypatch.setattr(demo, 'ensure_data', lambda root: {})
    monkeypatch.setattr(demo, 'evaluate', lambda cfg, split, *a: (
        {}, types.SimpleNamespace(model='model')))
    monkeypatch.setattr(demo, 'split_summary', lambda m, stats, split: dict(
        bbox_mAP=0.5, vqa_acc=0.4, majority=0.3, majority_by_type={}))
    monkeypatch.setattr(demo, 'mechanism_stats',
                        lambda runner: dict(gates={'feedback.gate': 0.01}))
    monkeypatch.setattr(demo, 'probe', lambda model, cfg: dict(
        detector=dict(corner_looks=0.6), mllm=dict(corner_looks=0.8)))
    monkeypatch.setattr(study, 'evaluate_pope', lambda cfg, args, ckpt: (
        pope.append(cfg) or {s: dict(pope=dict(adversarial=0.7))
                             for s in study.SPLITS}))
    results = str(tmp_path / f'{variant}.json')
    args = study.parse_args([
        '--run', variant, '1', '--stage-outputs', json.dumps(STAGES),
        '--results', results, '--work-dir', str(tmp_path / 'work')])
    study.run_one(args, variant, 1)
    (row, ) = study.load_results(results)['runs']
    return row, trained, pope


def test_run_records_probe_pope_and_cpu_minutes(monkeypatch, tmp_path):
    row, (cfg, ), pope = fake_run(monkeypatch, tmp_path, 'mllm_only')
    assert cfg.model.mllm.pretrained == STAGES['hf_instructblip']
    assert row['config'] == grid.MLLM_BASELINE
    assert row['wiring'] == study.WIRING and row['stages'] == STAGES
    assert row['knowledge_probe']['mllm']['corner_looks'] == 0.8
    assert row['val']['pope']['adversarial'] == 0.7 and len(pope) == 1
    assert row['cpu_minutes'] > 0 and row['gates']
    row, _, pope = fake_run(monkeypatch, tmp_path, 'detector_only')
    assert 'pope' not in row['val'] and not pope  # no LLM to ask
    assert row['knowledge_probe']['detector']['corner_looks'] == 0.6


def test_grid_prints_cpu_minutes_and_keeps_earlier_runs_apart(
        monkeypatch, tmp_path, capsys):
    results = str(tmp_path / 'results.json')
    earlier = dict(variant='mrmllm', seed=0, iters=250, minutes=9.0)
    study.save_results(results, dict(runs=[earlier]))
    commands = []

    def run(cmd, stdout, stderr):
        commands.append(cmd)
        r = study.load_results(results)
        r['runs'].append(dict(earlier, wiring=study.WIRING,
                              cpu_minutes=12.5))
        study.save_results(results, r)
        return types.SimpleNamespace(returncode=0)

    monkeypatch.setattr(study, 'stage_outputs', lambda args: STAGES)
    monkeypatch.setattr(study.subprocess, 'run', run)
    monkeypatch.setattr(study, 'report', lambda args: None)
    extra = row_config(tmp_path, 'mine.py')
    monkeypatch.chdir(ROOT)  # main works from there
    study.main(['--only', 'mrmllm', '--seeds', '0', '--results', results,
                '--work-dir', str(tmp_path / 'work'), '--extra', extra,
                '--max-iters', '250'])
    out = capsys.readouterr().out
    # the first study's run is not this wiring's: run again, kept apart
    assert '0 of 1 runs done; 1 to go' in out
    (cmd, ) = commands
    assert cmd[cmd.index('--extra') + 1] == extra
    assert json.loads(cmd[cmd.index('--stage-outputs') + 1]) == STAGES
    assert re.search(r'mrmllm seed 0 done in [\d.]+ min, [\d.]+ CPU min',
                     out)
    assert '[study] grid: 12.5 CPU min over 1 runs' in out
    saved = study.load_results(results)
    assert saved['earlier_runs'] == [earlier]
    assert saved['runs'][0]['wiring'] == study.WIRING


def run(variant, seed, **splits):
    out = dict(variant=variant, seed=seed, iters=250, minutes=9.0,
               knowledge_probe=dict(detector=dict(corner_looks=0.5 + seed),
                                    mllm=None))
    for split in study.SPLITS:
        out[split] = dict(vqa_acc_by_type={}, **splits.get(split, {}))
    return out


def test_targets_of_issue_21(tmp_path):
    results = dict(runs=[
        run('mrmllm', 0, val=dict(vqa_acc=0.56, bbox_mAP=0.800)),
        run('mrmllm', 1, val=dict(vqa_acc=0.57, bbox_mAP=0.802)),
        run('mllm_only', 0, val=dict(vqa_acc=0.50)),
        run('mllm_only', 1, val=dict(vqa_acc=0.51)),
        run('detector_only', 0, val=dict(bbox_mAP=0.805)),
        run('detector_only', 1, val=dict(bbox_mAP=0.807)),
        dict(run('pooled_feedback', 0), description='my feedback'),
    ])
    lines = study.comparisons(results).splitlines()
    val_map, val_vqa = lines[1], lines[2]
    # +0.06 VQA: the target is +0.05
    assert 'difference +0.060 (target +0.05' in val_vqa
    assert val_vqa.endswith('**met**')
    # -0.005 mAP, std 0.0014: a loss, but less than 0.01 by > one std
    assert 'difference -0.005 (target -0.01' in val_map
    assert val_map.endswith('**met**')
    assert study.verdict(-0.02, -0.01, 0.002, 3) == 'missed'
    assert study.verdict(-0.009, -0.01, 0.002, 3) == 'within noise'
    # no change at all is no loss, however noisy
    assert study.verdict(0.0005, -0.01, 0.003, 3) == 'met'
    table = study.table(results).splitlines()
    assert '| probe det. (corner looks) | probe MLLM (corner looks) |' in \
        table[0]
    # the detector probe's mean ± std per row; an extra row after the grid
    assert '| 1.000 ± 0.707 | – |' in table[2]
    assert table[-1].startswith('| `pooled_feedback` | 1 |')
    assert study.descriptions(results)['pooled_feedback'] == 'my feedback'
