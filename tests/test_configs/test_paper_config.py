"""The paper-scale config, built without weights on the meta device."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmmrmllm.models.det_adapters import build_detector_adapter
from mmmrmllm.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PAPER = osp.join(ROOT, 'configs', 'mrmllm_dino_vicuna.py')
# the other training stages derive from PAPER (stage 2, joint fine-tuning)
STAGE1 = osp.join(
    ROOT, 'configs', 'mrmllm',
    'mrmllm_dino_4scale_r50_vicuna_7b_8xb2_60ki_coco_vqav2_stage1_align.py')
STAGE2_LORA = osp.join(
    ROOT, 'configs', 'mrmllm',
    'mrmllm_dino_4scale_r50_vicuna_7b_8xb2_60ki_coco_vqav2_stage2_lora.py')


def count(module):
    return sum(p.numel() for p in module.parameters())


def paper_model_cfg(**groups):
    """The paper config's model, ``group=dict(key=value)`` merged into
    its groups."""
    model = Config.fromfile(PAPER).model
    for group, values in groups.items():
        model[group].update(values)
    return model


def test_paper_scale_parameter_counts():
    # no weights: the architecture only (tokenizer: the built-in byte one)
    model_cfg = paper_model_cfg(init=dict(detector_checkpoint=None),
                                mllm=dict(pretrained=None))
    model_cfg.llm.tokenizer = 'byte'
    with torch.device('meta'):
        model = MODELS.build(model_cfg)
    parts = {name: count(child) for name, child in model.named_children()}
    print('\n'.join(f'{k:>22}: {v / 1e6:10.2f} M' for k, v in parts.items()))
    # Vicuna-7B (LLaMA-7B shape, 32001-token vocabulary)
    assert 6.73e9 < parts['llm'] < 6.75e9
    # EVA ViT-g/14 as in InstructBLIP
    assert 0.98e9 < parts['vision_encoder'] < 0.99e9
    # InstructBLIP's Q-Former (with its BERT word embeddings) + P_proj/gates
    assert 0.10e9 < parts['fusion'] < 0.21e9
    # DINO-4scale R50 (47.7 M in mmdet's model zoo)
    assert 46e6 < parts['detector'] < 49e6
    assert parts['language_projection'] == 768 * 4096 + 4096
    # the LLM is frozen at this stage; the detector and fusion train
    trainable = {
        name: sum(p.numel() for p in child.parameters() if p.requires_grad)
        for name, child in model.named_children()
    }
    assert trainable['llm'] == 0 and trainable['vision_encoder'] == 0
    assert trainable['fusion'] == parts['fusion']
    # InstructBLIP's input, also without the directory
    assert model.llm.token_layout == 'visual_first'
    assert model.instruction_tokenizer is not None
    assert model.instruction_text == 'prompt'


@pytest.mark.parametrize('path', [PAPER, STAGE1, STAGE2_LORA])
def test_paper_configs_read_their_input_as_instructblip(path):
    """Every stage: visual tokens first, then BOS + the prompt; the whole
    prompt into the Q-Former (through <dir>/qformer_tokenizer, the
    default with mllm.pretrained); InstructBLIP's short-answer decoding
    (docs/model.md, "InstructBLIP layout")."""
    model = Config.fromfile(path).model
    assert model.mllm.pretrained == 'checkpoints/instructblip-vicuna-7b'
    assert model.llm.token_layout == 'visual_first'
    assert model.mllm.instruction_in_fusion is True
    assert model.mllm.instruction_text == 'prompt'
    assert model.mllm.get('instruction_tokenizer') is None
    assert model.llm.generation_cfg == dict(
        do_sample=False, num_beams=5, max_new_tokens=10, min_new_tokens=1,
        length_penalty=-1.0, repetition_penalty=1.5)
    assert model.data_preprocessor.enc.mean == pytest.approx(
        [122.7709, 116.7460, 104.0937], abs=1e-4)


def test_stage_configs_change_only_their_switches():
    def switches(path):
        cfg = Config.fromfile(path)
        return (cfg.model.couplings.detach_det_feats,
                cfg.model.llm.train_mode,
                cfg.optim_wrapper.paramwise_cfg.custom_keys.detector.lr_mult)

    # stage 2 (the entry point): the detector trains and the LM loss
    # reaches it; the LLM stays frozen
    assert switches(PAPER) == (False, 'frozen', 0.1)
    # stage 1: only the new parts learn
    assert switches(STAGE1) == (True, 'frozen', 0.0)
    assert switches(STAGE2_LORA) == (False, 'lora', 0.1)
    stage2, stage1 = Config.fromfile(PAPER), Config.fromfile(STAGE1)
    stage1.model.couplings.detach_det_feats = False
    stage1.optim_wrapper.paramwise_cfg.custom_keys.detector.lr_mult = 0.1
    assert stage1.model == stage2.model
    assert stage1.optim_wrapper == stage2.optim_wrapper


def test_missing_weight_locations_are_named(tmp_path):
    missing = str(tmp_path / 'no-such-instructblip')
    cfg = paper_model_cfg(init=dict(detector_checkpoint=None),
                          mllm=dict(pretrained=None))
    cfg.llm.tokenizer = missing
    with torch.device('meta'), pytest.raises(FileNotFoundError,
                                             match='no-such-instructblip'):
        MODELS.build(cfg)
    cfg = paper_model_cfg(
        init=dict(detector_checkpoint=str(tmp_path / 'dino.pth')))
    with torch.device('meta'), pytest.raises(FileNotFoundError,
                                             match='dino.pth'):
        MODELS.build(cfg)


def test_paper_scale_grounding_dino(tmp_path):
    """The Grounding DINO family at paper scale: mmdet's Swin-T Grounding
    DINO behind the adapter that makes the class names its prompt (a tiny
    local BERT stands in for bert-base-uncased)."""
    import sys
    sys.path.insert(0, osp.join(ROOT, 'tests', 'test_models'))
    from zoo import make_tiny_bert
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs', 'mrmllm',
        'mrmllm_grounding_dino_swin_t_vicuna_7b_8xb2_60ki_coco_vqav2.py')).model
    assert cfg.detector.language_model.name == 'checkpoints/bert-base-uncased'
    assert cfg.init.detector_checkpoint.endswith(
        'grounding_dino_swin-t_coco.pth')
    # the detector alone, on the CPU (Swin's drop-path schedule calls
    # .item(), which the meta device cannot); the rest is the DINO config's
    cfg.detector.language_model.name = make_tiny_bert(str(tmp_path / 'b'))
    det = MODELS.build(cfg.detector)
    assert type(build_detector_adapter(det)).__name__ == \
        'GroundingDINOAdapter'
    body = count(det) - count(det.language_model)
    print(f'Grounding DINO-T without its text encoder: {body / 1e6:.1f} M')
    # Swin-T (28 M) + DINO's transformer + the text/image fusion layers
    assert 45e6 < body < 75e6
