"""The claim study's grid: the joint config, the splits and the rows.

Shared by ``ablation_study.py`` (which trains and evaluates the rows) and
``ablation_report.py`` (which tabulates them).
"""
import os.path as osp

CONFIG = osp.join('configs', 'mrmllm',
                  'mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes.py')
SPLITS = ('val', 'corner', 'novel')
OFF = dict(use_det_feats_in_fusion=False, use_feedback=False,
           use_box_tokens=False, use_perception_prompt=False)
# name → (model switches on top of the joint config, what it means)
VARIANTS = {
    'detector_only': (dict(variant='detector_only'),
                      'the detector alone (baseline)'),
    'mllm_only': (dict(variant='mllm_only'),
                  'the MLLM alone: same pretrained LLM, no detector, no '
                  'perception prompt (baseline)'),
    'joint_no_coupling': (dict(OFF), 'both trained together, every '
                          'coupling off: shared training only'),
    'fusion': (dict(OFF, use_det_feats_in_fusion=True),
               '+ shared query fusion (detector features in the fusion '
               'memory)'),
    'fusion_feedback': (dict(OFF, use_det_feats_in_fusion=True,
                             use_feedback=True),
                        '+ perception feedback into the detector'),
    'fusion_feedback_detach': (dict(OFF, use_det_feats_in_fusion=True,
                                    use_feedback=True,
                                    detach_perception=True),
                               '+ feedback, LM gradient stopped at the '
                               'detector (detach_perception)'),
    'box_tokens': (dict(OFF, use_det_feats_in_fusion=True,
                        use_feedback=True, use_box_tokens=True),
                   '+ box tokens'),
    'mrmllm': (dict(), 'full MR-MLLM (+ perception prompt)'),
    'concat_fusion': (dict(fusion=dict(perception_merge='concat')),
                      'full MR-MLLM, concat fusion variant'),
    # an attempt to make the coupling work: the gates stay ~1e-3 after
    # training from zero, so start them open
    'mrmllm_open_gates': (dict(fusion=dict(p_gate_init=0.1),
                               feedback=dict(gate_init=0.1)),
                          'full MR-MLLM, fusion and feedback gates start at '
                          '0.1 instead of 0'),
}
MAIN = ('mrmllm', 'detector_only', 'mllm_only')
# run order: the main comparison first, then the ablations, then seeds
PLAN = ([(v, 0) for v in MAIN] + [(v, 1) for v in MAIN] +
        [(v, 0) for v in VARIANTS if v not in MAIN] +
        [(v, 2) for v in MAIN])
RESULTS = osp.join('docs', 'results', 'cornershapes.json')

# POPE probes of each split, built once under <data root>/pope/ by
# ablation_study.py. Phrased as the dataset's own existence questions ("Is
# there a red circle?") without the colour: the tiny models never saw POPE's
# "... in the image?" and answer it "left" or "right", which POPE reads as
# yes (F1 0.667 for every model); see docs/pope.md.
POPE_TEMPLATE = 'Is there a {}?'
POPE_CONFIG = osp.join('configs', '_base_', 'datasets',
                       'pope_cornershapes.py')
