"""The claim study's grid: the configs, the splits and the rows.

Shared by ``ablation_study.py`` (which trains and evaluates the rows) and
``ablation_report.py`` (which tabulates them). A row is a config (the main
job's joint config, a baseline's or a researcher's own, see
:func:`extra_rows`) plus model switches on top of it.
"""
import os.path as osp
from typing import NamedTuple, Sequence

CONFIG = osp.join('configs', 'mrmllm',
                  'mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes.py')
# the baselines as the main job (tools/demo.py) configures them: stage 1a's
# detector alone, stage 1c's InstructBLIP alone, each fine-tuned
DET_BASELINE = osp.join('configs', 'baselines',
                        'dino_r18_1xb8_250i_cornershapes.py')
MLLM_BASELINE = osp.join('configs', 'baselines',
                         'mllm_llama_4l_1xb8_250i_cornershapes.py')
SPLITS = ('val', 'corner', 'novel')
# What the rows start from. 2 (issue 21): stage 1a's detector and stage
# 1c's InstructBLIP directory. Runs without the key are of the first study
# (stage 1b's bare LLM): kept in the results file, never resumed.
WIRING = 2
MAIN = ('mrmllm', 'detector_only', 'mllm_only')
MAIN_SEEDS = (0, 1, 2)
OFF = dict(use_det_feats_in_fusion=False, use_feedback=False,
           use_box_tokens=False, use_perception_prompt=False)


class Row(NamedTuple):
    """One row of the study: ``config`` with the model ``switches`` on top
    (``fusion``/``feedback`` update that part), what it means, its
    seeds."""
    config: str
    switches: dict
    description: str
    seeds: tuple = (0, )


def joint(switches, description, seeds=(0, )):
    return Row(CONFIG, switches, description, seeds)


VARIANTS = {
    'detector_only': Row(DET_BASELINE, {}, 'the detector alone: stage 1a '
                         'fine-tuned (baseline)', MAIN_SEEDS),
    'mllm_only': Row(MLLM_BASELINE, {}, 'the MLLM alone: the stage 1c '
                     'InstructBLIP fine-tuned, no detector, no perception '
                     'prompt (baseline)', MAIN_SEEDS),
    'joint_no_coupling': joint(dict(OFF), 'both trained together, every '
                               'coupling off: shared training only'),
    'fusion': joint(dict(OFF, use_det_feats_in_fusion=True),
                    '+ shared query fusion (detector features in the '
                    'fusion memory)'),
    'fusion_feedback': joint(dict(OFF, use_det_feats_in_fusion=True,
                                  use_feedback=True),
                             '+ perception feedback into the detector'),
    'fusion_feedback_detach': joint(
        dict(OFF, use_det_feats_in_fusion=True, use_feedback=True,
             detach_perception=True),
        '+ feedback, LM gradient stopped at the detector '
        '(detach_perception)'),
    'box_tokens': joint(dict(OFF, use_det_feats_in_fusion=True,
                             use_feedback=True, use_box_tokens=True),
                        '+ box tokens'),
    'mrmllm': joint(dict(), 'full MR-MLLM (+ perception prompt)',
                    MAIN_SEEDS),
    'concat_fusion': joint(dict(fusion=dict(perception_merge='concat')),
                           'full MR-MLLM, concat fusion variant'),
    # an attempt to make the coupling work: the gates stay ~1e-3 after
    # training from zero, so start them open
    'mrmllm_open_gates': joint(dict(fusion=dict(p_gate_init=0.1),
                                    feedback=dict(gate_init=0.1)),
                               'full MR-MLLM, fusion and feedback gates '
                               'start at 0.1 instead of 0'),
}


def plan(rows: dict) -> list:
    """``(variant, seed)`` in run order: the main comparison's first two
    seeds (a first answer early), every other row, then the main rows'
    remaining seeds."""
    first = [(v, s) for s in (0, 1) for v in MAIN if s in rows[v].seeds]
    rest = [(v, s) for v in rows if v not in MAIN for s in rows[v].seeds]
    last = [(v, s) for v in MAIN for s in rows[v].seeds if s > 1]
    return first + rest + last


PLAN = plan(VARIANTS)


def extra_rows(paths: Sequence[str]) -> dict:
    """Rows from configs (``ablation_study.py --extra``): a mechanism of
    one's own is a row without editing the study.

    Each config is the whole run (typically the joint config with one part
    changed). Its optional ``ablation_row = dict(name=..., description=...,
    seeds=(0, ))`` names the row (default: the file's name) and says what
    it means. Read with ``custom_imports`` honoured, so it registers its
    classes here too.

    Returns:
        dict: name → :class:`Row` (no switches: the config is the switch).
    """
    from mmmrmllm.utils.config import load_config
    rows = {}
    for path in paths:
        meta = dict(load_config(path).get('ablation_row') or {})
        name = meta.get('name') or osp.splitext(osp.basename(path))[0]
        if name in VARIANTS or name in rows:
            raise ValueError(f'{path}: row name {name!r} is taken; set '
                             "ablation_row = dict(name='...') in it")
        rows[name] = Row(osp.abspath(path), {},
                         meta.get('description') or f'the config {path}',
                         tuple(meta.get('seeds', (0, ))))
    return rows


RESULTS = osp.join('docs', 'results', 'cornershapes.json')

# POPE probes of each split, built once under <data root>/pope/ by
# ablation_study.py. Phrased as the dataset's own existence questions ("Is
# there a red circle?") without the colour: the tiny models never saw POPE's
# "... in the image?" and answer it "left" or "right", which POPE reads as
# yes (F1 0.667 for every model); see docs/pope.md.
POPE_TEMPLATE = 'Is there a {}?'
POPE_CONFIG = osp.join('configs', '_base_', 'datasets',
                       'pope_cornershapes.py')
