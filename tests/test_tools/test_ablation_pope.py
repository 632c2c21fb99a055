"""POPE in the claim study: the probes built once per data root, the F1 of
the adversarial sampling in the table and the verdicts."""
import json
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
sys.path.insert(0, osp.join(ROOT, 'tools'))

import ablation_study as study  # noqa: E402


def run(variant, seed, val_f1, corner_f1):
    def split(f1):
        out = dict(bbox_mAP=0.5, vqa_acc=0.5,
                   vqa_acc_by_type=dict(colour=0.3))
        if f1 is not None:
            out['pope'] = dict(random=0.9, popular=0.8, adversarial=f1)
        return out
    return dict(variant=variant, seed=seed, iters=250, minutes=9.0,
                val=split(val_f1), corner=split(corner_f1),
                novel=split(None))


def test_pope_in_table_and_verdicts():
    results = dict(runs=[
        run('mrmllm', 0, 0.70, 0.60), run('mrmllm', 1, 0.72, 0.62),
        run('mllm_only', 0, 0.60, 0.61), run('mllm_only', 1, 0.62, 0.63),
        # a run from before POPE: no number, not a zero
        run('detector_only', 0, None, None),
    ])
    table = study.table(results)
    assert table.splitlines()[0].endswith(
        '| val POPE F1 (adv.) | corner POPE F1 (adv.) |')
    rows = {line.split('`')[1]: line for line in table.splitlines()[2:]}
    assert rows['mrmllm'].endswith('| 0.710 ± 0.014 | 0.610 ± 0.014 |')
    assert rows['detector_only'].endswith('| 9.0 | – | – |')
    verdicts = study.comparisons(results).splitlines()
    assert verdicts[-2].startswith(
        '- val POPE F1 (adversarial), MR-MLLM vs MLLM only: 0.710 vs 0.610')
    assert verdicts[-2].endswith('**met**')
    # higher by 0.0 is not outside one std
    assert verdicts[-1].endswith('**within noise**')


def test_probes_built_once_with_the_study_template(tmp_path):
    coco = dict(
        images=[dict(id=1, file_name='a.png'), dict(id=2, file_name='b.png')],
        annotations=[dict(id=1, image_id=1, category_id=1, bbox=[0, 0, 4, 4]),
                     dict(id=2, image_id=2, category_id=2, bbox=[0, 0, 4, 4])],
        categories=[dict(id=1, name='circle'), dict(id=2, name='square')])
    (tmp_path / 'annotations').mkdir()
    for split in study.SPLITS:
        (tmp_path / 'annotations' / f'{split}.json').write_text(
            json.dumps(coco))
    study.ensure_pope(str(tmp_path))
    val = tmp_path / 'pope' / 'val.json'
    content = json.loads(val.read_text())
    assert content['metainfo']['pope']['template'] == study.POPE_TEMPLATE
    assert content['data_list'][0]['questions'][0]['question'] == \
        'Is there a circle?'
    # kept as it is ...
    stamp = osp.getmtime(val)
    study.ensure_pope(str(tmp_path))
    assert osp.getmtime(val) == stamp
    # ... unless built with another phrasing
    content['metainfo']['pope']['template'] = 'Is there a {} in the image?'
    val.write_text(json.dumps(content))
    study.ensure_pope(str(tmp_path))
    assert json.loads(val.read_text())['metainfo']['pope']['template'] == \
        study.POPE_TEMPLATE
