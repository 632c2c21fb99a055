"""The claim study's evaluation: the metrics each row has outputs for,
the ``novel`` split, POPE's probes and F1, and the CPU time of a run."""
import copy
import json
import os.path as osp
import resource

from ablation_grid import POPE_CONFIG, POPE_TEMPLATE, SPLITS


def metrics_for(evaluator, mode):
    """The evaluator without the metrics a baseline has no outputs for
    (box metrics without a detector, VQA without an LLM)."""
    skip = dict(mllm_only=('CocoMetric', 'CornerRecall'),
                detector_only=('VQAAccuracy', )).get(mode, ())
    evaluator = copy.deepcopy(evaluator)

    def name(metric):
        t = metric['type']
        return t if isinstance(t, str) else getattr(t, '__name__', str(t))

    evaluator.metrics = [
        m for m in evaluator.metrics
        if not any(s in name(m) for s in skip)
    ]
    return evaluator


def ensure_pope(data_root):
    """Build the POPE probes of each split unless they are there, built
    with :data:`POPE_TEMPLATE`."""
    from mmmrmllm.datasets.pope import write_pope_questions
    for split in SPLITS:
        out = osp.join(data_root, 'pope', f'{split}.json')
        if osp.isfile(out):
            with open(out) as f:
                meta = json.load(f)['metainfo'].get('pope', {})
            if meta.get('template') == POPE_TEMPLATE:
                continue
        # three classes: one present and one absent class per image
        write_pope_questions(
            osp.join(data_root, 'annotations', f'{split}.json'), out,
            min_classes=1, template=POPE_TEMPLATE)


def evaluate_pope(cfg, args, ckpt):
    """POPE's F1 and yes-ratio per sampling on each split, one test pass
    over a split's probes (all samplings together).

    Returns:
        dict: ``{split: dict(pope={sampling: F1}, pope_yes_ratio=...)}``.
    """
    import demo
    from mmengine.config import Config

    from mmmrmllm.datasets.pope import SAMPLINGS
    ensure_pope(args.data_root)
    pope = Config.fromfile(POPE_CONFIG)
    demo.set_data_root(pope, args.data_root)
    cfg = copy.deepcopy(cfg)
    out = {}
    for split in SPLITS:
        cfg[f'pope_{split}_dataset'] = pope[f'pope_{split}_dataset']
        cfg[f'pope_{split}_evaluator'] = pope.pope_evaluator
        metrics, _ = demo.evaluate(cfg, f'pope_{split}', ckpt, cfg.work_dir,
                                   0)
        out[split] = {
            key: {s: metrics.get(f'pope/{s}_{name}') for s in SAMPLINGS}
            for key, name in (('pope', 'f1'), ('pope_yes_ratio', 'yes_ratio'))
        }
    return out


def add_novel_split(cfg, data_root):
    """``novel_dataset``/``novel_evaluator``: the corner split's, on the
    novel looks' files."""
    cfg.novel_dataset = copy.deepcopy(cfg.corner_dataset)
    cfg.novel_dataset.update(ann_file='annotations/novel.json',
                             question_file='questions/novel.json')
    cfg.novel_evaluator = copy.deepcopy(cfg.corner_evaluator)
    for metric in cfg.novel_evaluator.metrics:
        if 'ann_file' in metric:  # the COCO metric (absent: MLLM only)
            metric.ann_file = osp.join(data_root, 'annotations',
                                       'novel.json')


def cpu_minutes(children_only=False):
    """CPU minutes (user + system) used so far by this process and its
    waited-for children (data loader workers; a run's process, seen from
    the study): the grid's cost on a shared machine, where wall time
    depends on what else runs."""
    who = [resource.RUSAGE_CHILDREN]
    if not children_only:
        who.append(resource.RUSAGE_SELF)
    return sum(u.ru_utime + u.ru_stime
               for u in map(resource.getrusage, who)) / 60
