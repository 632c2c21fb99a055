"""The claim study's bookkeeping: what is done, the evaluators of the
baselines, the table (mean ± std) and the verdicts."""
import json
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
sys.path.insert(0, osp.join(ROOT, 'tools'))

import ablation_study as study  # noqa: E402


def run(variant, seed, val_map, corner_map, val_vqa, corner_vqa):
    split = lambda m, v: dict(bbox_mAP=m, vqa_acc=v,  # noqa: E731
                              vqa_acc_by_type=dict(colour=0.3))
    return dict(variant=variant, seed=seed, iters=250, minutes=9.0,
                val=split(val_map, val_vqa),
                corner=split(corner_map, corner_vqa),
                novel=split(0.1, 0.4), gates={'feedback.gate': 0.001})


def test_metrics_for_baselines():
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, study.CONFIG))
    names = lambda ev: [m['type'].__name__ for m in ev.metrics]  # noqa
    assert names(study.metrics_for(cfg.val_evaluator, 'joint')) == [
        'MRMLLMCocoMetric', 'CornerRecall', 'VQAAccuracy']
    assert names(study.metrics_for(cfg.val_evaluator, 'mllm_only')) == [
        'VQAAccuracy']
    assert names(study.metrics_for(cfg.corner_evaluator,
                                   'detector_only')) == [
        'MRMLLMCocoMetric', 'CornerRecall']


def test_resume_bookkeeping_and_report(tmp_path):
    path = str(tmp_path / 'results' / 'cornershapes.json')
    results = dict(runs=[
        run('mrmllm', 0, 0.80, 0.30, 0.64, 0.46),
        run('mrmllm', 1, 0.82, 0.32, 0.66, 0.48),
        run('detector_only', 0, 0.81, 0.25, -1, -1),
        run('detector_only', 1, 0.83, 0.27, -1, -1),
        run('mllm_only', 0, -1, -1, 0.50, 0.40),
    ])
    study.save_results(path, results)
    assert study.done(study.load_results(path), 'mrmllm', 1, 250)
    assert not study.done(study.load_results(path), 'mrmllm', 2, 250)
    assert not study.done(study.load_results(path), 'mrmllm', 0, 100)
    table = study.table(results)
    # mean ± sample std of the two seeds
    assert '| `mrmllm` | 2 | 0.810 ± 0.014 | 0.310 ± 0.014 |' in table
    assert '| `mllm_only` | 1 | – |' in table
    verdicts = study.comparisons(results)
    # corner mAP +0.05 with std 0.014 over 2 seeds: met
    assert 'corner mAP, MR-MLLM vs detector only: 0.310 vs 0.260, ' \
        'difference +0.050' in verdicts
    assert verdicts.splitlines()[0].endswith('**met**')
    # val VQA vs a single-seed MLLM-only: +0.15
    assert 'val VQA, MR-MLLM vs MLLM only: 0.650 vs 0.500' in verdicts

    class Args:
        results = path
    study.report(Args)
    md = open(tmp_path / 'results.md').read()
    assert table in md and 'Runs done: 5 of' in md
    assert osp.getsize(tmp_path / 'results' / 'cornershapes.png') > 0
    assert json.load(open(path))['runs'][0]['variant'] == 'mrmllm'
