"""Every shipped config loads; the tiny CornerShapes family builds and each
ablation config switches what its name says."""
import glob
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from mmmrmllm.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p)
TINY = 'mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes'
SMOLLM2 = 'mrmllm_dino_r18_smollm2_135m_1xb8_250i_cornershapes'
VL = 'instructblip_llama_4l_1xb32_2000i_cornershapes_vl.py'


def cfg_of(rel):
    return Config.fromfile(osp.join(ROOT, 'configs', rel))


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_config_loads(path):
    cfg = Config.fromfile(path)
    for key in ('model', 'train_dataloader', 'optim_wrapper', 'train_cfg',
                'default_scope'):
        assert key in cfg, key


# (config, attribute that must be None / value that must hold)
ABLATIONS = [
    (f'ablations/{TINY}_no_feedback.py', lambda m: m.feedback is None),
    (f'ablations/{TINY}_no_box_tokens.py',
     lambda m: m.perception_encoder is None),
    (f'ablations/{TINY}_no_prompt.py', lambda m: m.prompt_generator is None),
    (f'ablations/{TINY}_no_det_feats.py',
     lambda m: not m.use_det_feats_in_fusion),
    (f'ablations/{TINY}_detach_perception.py',
     lambda m: m.detach_perception),
    (f'ablations/{TINY}_concat_fusion.py',
     lambda m: m.fusion.perception_merge == 'concat'),
    ('baselines/dino_r18_1xb8_250i_cornershapes.py',
     lambda m: m.llm is None and m.detector is not None),
    ('baselines/mllm_llama_4l_1xb8_250i_cornershapes.py',
     lambda m: m.detector is None and m.llm is not None),
    (f'mrmllm/{TINY}.py', lambda m: m.feedback is not None and m.
     perception_encoder is not None and m.prompt_generator is not None),
]


@pytest.fixture(scope='module')
def hf_llm(tmp_path_factory):
    """The tiny configs load the LLM that the language pre-training stage
    saves (a Hugging Face directory); build a small one."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from mmmrmllm.models.llm import train_subword_tokenizer
    path = str(tmp_path_factory.mktemp('hf_llm'))
    tok = train_subword_tokenizer(
        ['How many circles are there?', 'yes', 'no'] * 5, 128, path)
    LlamaForCausalLM(
        LlamaConfig(
            vocab_size=128, hidden_size=32, intermediate_size=64,
            num_hidden_layers=1, num_attention_heads=2,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id)).save_pretrained(path)
    return path


@pytest.fixture(scope='module')
def hf_mllm(hf_llm, tmp_path_factory):
    """What the MLLM pre-training stage saves: its config's model (on the
    stand-in LLM) as an InstructBLIP directory."""
    from mmmrmllm.models import save_instructblip
    cfg = cfg_of('pretrain/' + VL)
    cfg.model.llm.name_or_path = hf_llm
    cfg.model.mllm.instruction_tokenizer = hf_llm
    model = MODELS.build(cfg.model)
    path = str(tmp_path_factory.mktemp('hf_instructblip'))
    save_instructblip(model, path)
    return path


def use_test_weights(model_cfg, hf_llm, hf_mllm=None):
    """Swap the stage outputs a config names for test stand-ins."""
    if model_cfg.mllm.get('pretrained'):
        assert model_cfg.mllm.pretrained.endswith('/hf_instructblip')
        model_cfg.mllm.pretrained = hf_mllm
    elif model_cfg.get('llm') and model_cfg.llm.get('name_or_path'):
        assert model_cfg.llm.name_or_path.endswith('/hf_model')
        model_cfg.llm.name_or_path = hf_llm
    if model_cfg.init.get('detector_checkpoint'):
        assert model_cfg.init.detector_checkpoint.startswith(
            'work_dirs/dino_r18')
        model_cfg.init.detector_checkpoint = None


@pytest.mark.parametrize('rel,check', ABLATIONS, ids=[a[0] for a in ABLATIONS])
def test_tiny_family_builds_with_its_switch(rel, check, hf_llm, hf_mllm):
    model_cfg = cfg_of(rel).model
    use_test_weights(model_cfg, hf_llm, hf_mllm)
    # real tensors: the LLM loads its weights from the directory
    model = MODELS.build(model_cfg)
    assert check(model)
    # the per-part gradient clipping accepts the parts this row switched
    # off (a baseline without an LLM, an ablation without feedback)
    from mmengine.optim import build_optim_wrapper
    cfg = cfg_of(rel)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    wrapper.bind_model(model)


def test_main_job_configs_chain_the_stages():
    """The MLLM stage loads what the language stage saves, the joint stage
    what the detector and MLLM stages save."""
    joint = cfg_of(f'mrmllm/{TINY}.py')
    det = cfg_of('pretrain/dino_r18_1xb8_250i_cornershapes_det.py')
    lm = cfg_of('pretrain/llama_4l_1xb12_2500i_cornershapes_text.py')
    vl = cfg_of('pretrain/' + VL)
    assert joint.model.init.detector_checkpoint == (
        'work_dirs/dino_r18_1xb8_250i_cornershapes_det/'
        f'iter_{det.train_cfg.max_iters}.pth')
    assert vl.model.llm.name_or_path == (
        'work_dirs/llama_4l_1xb12_2500i_cornershapes_text/hf_model')
    assert joint.model.mllm.pretrained == (
        f'work_dirs/{VL[:-3]}/hf_instructblip')
    # the joint LLM is the MLLM stage's, read from its directory
    assert joint.model.llm.name_or_path is None
    assert joint.model.llm.model_cfg is None
    assert any(h.type.__name__ == 'HFExportHook' for h in lm.custom_hooks)
    assert any(h.type.__name__ == 'InstructBLIPExportHook'
               for h in vl.custom_hooks)
    # the detector is the joint model's, the prompt the LLM learnt to read,
    # the MLLM's parts the joint model's
    assert det.model.detector == joint.model.detector
    assert lm.train_dataloader.dataset.prompt_generator == \
        joint.model.prompt_generator
    assert vl.model.vision_encoder == joint.model.vision_encoder
    assert vl.model.fusion == joint.model.fusion
    # the joint stage reads its input as the MLLM stage learnt to: token
    # layout and the Q-Former's instruction (a mismatch halved the
    # pre-trained MLLM's colour accuracy, 0.54 -> 0.22, once)
    assert vl.model.llm.token_layout == joint.model.llm.token_layout
    for key in ('instruction_in_fusion', 'instruction_text'):
        assert vl.model.mllm[key] == joint.model.mllm[key], key


def test_joint_stage_loads_the_mllm_stage(hf_llm, hf_mllm):
    """The joint model built from the MLLM stage's directory holds its
    vision tower, Q-Former and LLM weights."""
    from mmmrmllm.models.mllm_directory import read_state_dict
    model_cfg = cfg_of(f'mrmllm/{TINY}.py').model
    use_test_weights(model_cfg, hf_llm, hf_mllm)
    model = MODELS.build(model_cfg)
    saved = read_state_dict(hf_mllm)
    ours = model.state_dict()
    for theirs, mine in (
            ('query_tokens', 'fusion.query_tokens'),
            ('vision_model.embeddings.patch_embedding.weight',
             'vision_encoder.model.embeddings.patch_embedding.weight'),
            ('language_projection.weight', 'language_projection.weight'),
            ('language_model.model.layers.0.mlp.up_proj.weight',
             'llm.model.model.layers.0.mlp.up_proj.weight')):
        assert (saved[theirs] == ours[mine]).all(), mine
    assert model.instruction_tokenizer is not None
    assert model.llm.token_layout == 'visual_first'


@pytest.mark.parametrize('path', [
    f'configs/mrmllm/{TINY}.py',
    'configs/pretrain/dino_r18_1xb8_250i_cornershapes_det.py',
    'projects/MRMLLM_FCOS/configs/'
    'mrmllm_fcos_r18_llama_4l_1xb8_250i_cornershapes.py'
])
def test_classes_come_from_the_dataset_package(path):
    """The configs that pick CornerShapes take its classes from
    mmmrmllm.datasets.cornershapes.CLASSES: the model's class names and the
    detector head's size."""
    from mmmrmllm.datasets.cornershapes import CLASSES
    model = Config.fromfile(osp.join(ROOT, path)).model
    assert model.detections.class_names == list(CLASSES)
    assert model.detector.bbox_head.num_classes == len(CLASSES)


def test_smollm2_config_names_missing_weights():
    cfg = cfg_of(f'mrmllm/{SMOLLM2}.py')
    cfg.model.init.detector_checkpoint = None  # the detector stage's output
    cfg.model.llm.name_or_path = 'checkpoints/not-exported-yet'
    with pytest.raises(FileNotFoundError, match='not-exported-yet'):
        MODELS.build(cfg.model)


@pytest.mark.slow
def test_smollm2_export_and_config(tmp_path):
    out = str(tmp_path / 'smollm2')
    res = subprocess.run(
        [sys.executable,
         osp.join(ROOT, 'tools', 'misc', 'prepare_smollm2.py'), out],
        capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    cfg = cfg_of(f'mrmllm/{SMOLLM2}.py')
    cfg.model.llm.name_or_path = out
    cfg.model.init.detector_checkpoint = None  # the detector stage's output
    model = MODELS.build(cfg.model)
    assert model.llm.hidden_size == 576
    assert sum(p.numel() for p in model.llm.parameters()) > 130e6
    # frozen LLM weights stay out of the checkpoint
    assert not any(k.startswith('llm.') for k in model.state_dict())


def test_project_swaps_in_fcos(hf_llm, hf_mllm):
    cfg = Config.fromfile(
        osp.join(ROOT, 'projects', 'MRMLLM_FCOS', 'configs',
                 'mrmllm_fcos_r18_llama_4l_1xb8_250i_cornershapes.py'))
    # a DINO checkpoint does not fit FCOS
    assert cfg.model.init.detector_checkpoint is None
    use_test_weights(cfg.model, hf_llm, hf_mllm)
    assert cfg.model.detector.type.__name__ == 'FCOS'
    assert 'num_queries' not in cfg.model.detector
    model = MODELS.build(cfg.model)
    assert type(model.det_adapter).__name__ == 'SingleStageAdapter'
    assert model.feedback is not None
