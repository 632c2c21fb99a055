"""Memory plan of a config: bytes per GPU for DDP or FSDP.

    python tools/analysis_tools/memory_plan.py CONFIG [--gpus 8]
        [--strategy fsdp] [--batch 2] [--seq-len 256] [--no-activations]

Parameters come from a meta-device build of ``CONFIG`` (no weights, no
memory): per top-level part, trained / frozen, dtype. Weights, gradients
and AdamW moments (fp32, trained parameters only) are counted per GPU: all
of them with DDP, 1/N with FSDP (full sharding). Activations are MEASURED:
the bytes the autograd graph keeps for the backward pass (saved tensors,
weights excluded) in a real forward + backward on the CPU of each part
built from the config at full width and full input size but 1 and 2
layers (the fusion: 2 and 4, its cross-attention period); the per-layer
difference is SCALED to the config's depth.
"""
import argparse
import copy
import json
import os.path as osp
import sys

import torch
from mmengine.config import DictAction

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
GB = 1e9


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--gpus', type=int, default=8)
    parser.add_argument('--strategy', choices=['ddp', 'fsdp'], default=None,
                        help='default: fsdp if the config has a strategy')
    parser.add_argument('--batch', type=int, default=2,
                        help='images per GPU')
    parser.add_argument('--seq-len', type=int, default=256,
                        help='LLM tokens per image (soft + box + prompt)')
    parser.add_argument('--det-size', type=int, nargs=2, default=[800, 1333])
    parser.add_argument('--no-activations', action='store_true',
                        help='skip the CPU measurement (fast)')
    parser.add_argument('--json', help='also write the plan here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, as in tools/train.py')
    return parser.parse_args(argv)


def build_meta(cfg):
    """The config's model on the meta device (weights and tokenizer
    locations dropped: the architecture only, with the built-in byte
    tokenizer)."""
    from mmmrmllm.models.mrmllm_args import set_model_arg
    from mmmrmllm.registry import MODELS
    model_cfg = copy.deepcopy(cfg.model)
    set_model_arg(model_cfg, 'init.detector_checkpoint', None)
    set_model_arg(model_cfg, 'mllm.pretrained', None)
    if model_cfg.get('llm'):
        model_cfg.llm.tokenizer = 'byte'
    with torch.device('meta'):
        return MODELS.build(model_cfg)


def parts_table(model) -> list:
    rows = []
    for name, child in model.named_children():
        params = list(child.parameters())
        if not params or name == 'data_preprocessor':
            continue
        trained = sum(p.numel() for p in params if p.requires_grad)
        total = sum(p.numel() for p in params)
        weight = sum(p.numel() * p.element_size() for p in params)
        dtypes = sorted({str(p.dtype).replace('torch.', '') for p in params})
        rows.append(dict(part=name, params=total, trained=trained,
                         dtype='/'.join(dtypes), weight_bytes=weight,
                         # fp32 gradient + two fp32 AdamW moments
                         train_bytes=trained * (4 + 8)))
    return rows


def saved_bytes(module, run) -> int:
    """Bytes of the tensors autograd keeps for the backward of ``run()``
    (the storages of ``module``'s weights excluded: a linear layer saves a
    transposed view of its weight), then runs that backward."""
    weights = {p.untyped_storage().data_ptr() for p in module.parameters()}
    storages = {}

    def pack(t):
        st = t.untyped_storage()
        if st.data_ptr() not in weights:
            storages[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = run()
    if loss.requires_grad:
        loss.backward()
    return sum(storages.values())


def _llm_run(cfg, layers, seq_len):
    from transformers import AutoConfig, AutoModelForCausalLM
    llm = dict(cfg.model.llm.model_cfg)
    kind = llm.pop('model_type')
    hf = AutoConfig.for_model(kind, **dict(llm, num_hidden_layers=layers))
    dtype = getattr(torch, cfg.model.llm.get('torch_dtype') or 'float32')
    model = AutoModelForCausalLM.from_config(hf, torch_dtype=dtype)
    if cfg.model.llm.get('train_mode', 'frozen') == 'frozen':
        model.requires_grad_(False)
    # the soft tokens need the LM loss's gradient: the frozen LLM keeps its
    # activations for the backward pass
    embeds = torch.randn(1, seq_len, hf.hidden_size, dtype=dtype,
                         requires_grad=True)
    labels = torch.randint(0, hf.vocab_size, (1, seq_len))
    return model, lambda: model(inputs_embeds=embeds, labels=labels).loss


def _vision_run(cfg, layers, _):
    from mmmrmllm.registry import MODELS
    enc_cfg = copy.deepcopy(cfg.model.vision_encoder)
    enc_cfg.model_cfg.num_hidden_layers = layers
    enc = MODELS.build(enc_cfg)
    size = enc_cfg.model_cfg.image_size
    img = torch.randn(1, 3, size, size)

    def run():
        out = enc(img)
        out = out[0] if isinstance(out, (tuple, list)) else out
        return getattr(out, 'last_hidden_state', out).float().sum()
    return enc, run


def _fusion_run(cfg, layers, det_size):
    from mmmrmllm.models.part_configs import fusion_config
    from mmmrmllm.registry import MODELS
    m = cfg.model
    width = m.perception_encoder.embed_dims
    fusion = MODELS.build(fusion_config(
        dict(m.fusion, num_layers=layers),
        m.vision_encoder.model_cfg.hidden_size, True, [width] * 4))
    fusion.init_weights()
    vit = m.vision_encoder.model_cfg
    side = vit.image_size // vit.patch_size
    h, w = det_size
    # the detector's neck levels (strides 8-64) train: they need gradients
    feats = [torch.randn(1, width, -(-h // s), -(-w // s),
                         requires_grad=True) for s in (8, 16, 32, 64)]
    vis = torch.randn(1, side * side + 1, vit.hidden_size)

    def run():
        return fusion(vis, num_prefix_tokens=1, grid=(side, side),
                      perception_feats=feats, valid_hw=[(h, w)],
                      pad_hw=(h, w)).sum()
    return fusion, run


def _detector_run(cfg, layers, det_size):
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    from mmmrmllm.registry import MODELS
    det_cfg = copy.deepcopy(cfg.model.detector)
    det_cfg.backbone.init_cfg = None
    for part in ('encoder', 'decoder'):
        if part in det_cfg:
            det_cfg[part].num_layers = layers
    det = MODELS.build(det_cfg)
    # some weights (DINO's level_embed) are left uninitialised until here
    det.init_weights()
    det.train()
    h, w = det_size
    img = torch.randn(1, 3, h, w)
    sample = DetDataSample(metainfo=dict(img_shape=(h, w), pad_shape=(h, w),
                                         batch_input_shape=(h, w)))
    # two boxes inside the image, whatever its size
    frac = torch.tensor([[.01, .03, .25, .5], [.4, .1, .7, .9]])
    sample.gt_instances = InstanceData(
        bboxes=frac * torch.tensor([w, h, w, h]),
        labels=torch.tensor([1, 2]))

    def run():
        losses = det.loss(img, [sample])
        return sum(v.sum() if torch.is_tensor(v) else sum(v)
                   for k, v in losses.items() if 'loss' in k)
    return det, run


def _depths(cfg) -> dict:
    m = cfg.model
    det = m.detector
    return dict(
        llm=m.llm.model_cfg.num_hidden_layers,
        vision_encoder=m.vision_encoder.model_cfg.num_hidden_layers,
        fusion=m.fusion.num_layers,
        detector=max(det.get('encoder', {}).get('num_layers', 1),
                     det.get('decoder', {}).get('num_layers', 1)))


def measure_activations(cfg, seq_len: int, det_size) -> dict:
    """Per image: bytes kept for backward at k and 2k layers (k = 1; the
    fusion's cross-attention period for it), scaled to the config's depth
    (measured at k + per-k-layers difference x (depth / k - 1))."""
    runs = dict(llm=(_llm_run, seq_len), vision_encoder=(_vision_run, None),
                fusion=(_fusion_run, det_size),
                detector=(_detector_run, det_size))
    out = {}
    for part, (make, arg) in runs.items():
        k = cfg.model.fusion.get('cross_attention_frequency', 1) \
            if part == 'fusion' else 1
        torch.manual_seed(0)
        one = saved_bytes(*make(cfg, k, arg))
        two = saved_bytes(*make(cfg, 2 * k, arg))
        depth = _depths(cfg)[part]
        step = max(two - one, 0)
        out[part] = dict(layers=[k, 2 * k], measured=[one, two],
                         depth=depth, scaled=int(one + step *
                                                 (depth / k - 1)))
    return out


def plan(args) -> dict:
    from mmengine.config import Config

    from mmmrmllm.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    strategy = args.strategy or ('fsdp' if cfg.get('strategy') else 'ddp')
    rows = parts_table(build_meta(cfg))
    share = 1 / args.gpus if strategy == 'fsdp' else 1.0
    for row in rows:
        row['per_gpu_bytes'] = (row['weight_bytes'] +
                                row['train_bytes']) * share
    result = dict(config=args.config, strategy=strategy, gpus=args.gpus,
                  batch=args.batch, parts=rows)
    states = sum(r['per_gpu_bytes'] for r in rows)
    result['states_per_gpu_bytes'] = states
    if not args.no_activations:
        acts = measure_activations(cfg, args.seq_len, args.det_size)
        result['activations'] = acts
        result['activation_per_gpu_bytes'] = args.batch * sum(
            a['scaled'] for a in acts.values())
        result['total_per_gpu_bytes'] = states + result[
            'activation_per_gpu_bytes']
    return result


def format_plan(result: dict) -> str:
    s, n = result['strategy'], result['gpus']
    lines = [
        f"Memory plan: {result['config']}, {s.upper()} on {n} GPUs, "
        f"batch {result['batch']} per GPU", '',
        '| part | parameters | trained | dtype | weights | + grads, AdamW '
        f'| per GPU ({s} x {n}) |', '|---|---|---|---|---|---|---|'
    ]
    for r in result['parts']:
        lines.append(
            f"| {r['part']} | {r['params'] / 1e6:.1f} M | "
            f"{r['trained'] / 1e6:.1f} M | {r['dtype']} | "
            f"{r['weight_bytes'] / GB:.2f} GB | "
            f"{r['train_bytes'] / GB:.2f} GB | "
            f"{r['per_gpu_bytes'] / GB:.2f} GB |")
    lines.append(f"| **weights + gradients + optimizer** | | | | | | "
                 f"**{result['states_per_gpu_bytes'] / GB:.2f} GB** |")
    acts = result.get('activations')
    if acts:
        for part, a in acts.items():
            (k, k2), (one, two) = a['layers'], a['measured']
            lines.append(
                f'| activations: {part} (per image, measured with {k} / {k2} '
                f'layers: {one / GB:.3f} / {two / GB:.3f} GB; scaled to '
                f"{a['depth']}: {a['scaled'] / GB:.3f} GB) | | | | | | "
                f"{result['batch'] * a['scaled'] / GB:.2f} GB |")
        lines.append(f"| **total per GPU** | | | | | | "
                     f"**{result['total_per_gpu_bytes'] / GB:.2f} GB** |")
    lines += [
        '', 'Weights, gradients and AdamW moments are counted from a meta-'
        'device build (gradients and moments in fp32, trained parameters '
        'only; FSDP shards all three, DDP keeps them whole on every GPU).'
    ]
    if acts:
        lines.append(
            'Activations: MEASURED on the CPU as the bytes autograd keeps '
            'for the backward pass (weights excluded) of each part at full '
            'width and full input size with 1 and 2 layers; SCALED to the '
            "config's depth by the per-layer difference. A frozen part whose "
            'input needs no gradient (the vision tower) keeps nothing. Not '
            "counted: the allocator's fragmentation, the transient working "
            'set of one layer, the CUDA context (~0.5 GB).')
    else:
        lines.append('Activations: not measured (--no-activations).')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    result = plan(args)
    print(format_plan(result))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1)


if __name__ == '__main__':
    main()
