"""Loading BLIP-2 / InstructBLIP checkpoints into MR-MLLM parts, reporting
where every key went."""
import json
import os
from typing import Dict, List, Sequence, Tuple, Union

import torch
from mmengine.logging import MMLogger
from torch import Tensor, nn


def read_state_dict(path: str) -> Dict[str, Tensor]:
    """Read a state dict from a file or a ``save_pretrained`` directory.

    Handles ``*.safetensors`` and ``*.bin`` files, and sharded directories
    (``*.index.json``).

    Args:
        path (str): File or directory.

    Returns:
        dict[str, Tensor]: The weights.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f'weights {path!r} not found')
    if os.path.isdir(path):
        for index in ('model.safetensors.index.json',
                      'pytorch_model.bin.index.json'):
            if os.path.isfile(os.path.join(path, index)):
                with open(os.path.join(path, index)) as f:
                    files = sorted(set(json.load(f)['weight_map'].values()))
                break
        else:
            files = [
                f for f in ('model.safetensors', 'pytorch_model.bin')
                if os.path.isfile(os.path.join(path, f))
            ][:1]
        if not files:
            raise FileNotFoundError(f'no weights in directory {path!r}')
        state = {}
        for f in files:
            state.update(read_state_dict(os.path.join(path, f)))
        return state
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path)
    state = torch.load(path, map_location='cpu', weights_only=True)
    return state.get('state_dict', state)


def load_mapped(module: nn.Module, state: Dict[str, Tensor],
                mapping: Sequence[Tuple[str, str]]) -> dict:
    """Copy ``state`` keys into ``module`` through prefix renames.

    Args:
        module (nn.Module): Target.
        state (dict[str, Tensor]): Source weights.
        mapping (Sequence[tuple[str, str]]): (source prefix, target prefix);
            the first matching source prefix wins.

    Returns:
        dict: ``loaded`` (target keys), ``missing`` (target keys not
        loaded), ``unexpected`` (source keys matched by a prefix but absent
        from the target).
    """
    target = module.state_dict()
    new, used = {}, []
    for key, val in state.items():
        for src, dst in mapping:
            if key.startswith(src):
                name = dst + key[len(src):]
                if name in target:
                    if target[name].shape != val.shape:
                        raise ValueError(
                            f'{key}: shape {tuple(val.shape)} does not match '
                            f'{name} {tuple(target[name].shape)}')
                    new[name] = val
                    used.append(key)
                break
    matched = [k for k in state if any(k.startswith(s) for s, _ in mapping)]
    module.load_state_dict(new, strict=False)
    return dict(
        loaded=sorted(new),
        missing=sorted(set(target) - set(new)),
        unexpected=sorted(set(matched) - set(used)))


def load_qformer(fusion: nn.Module, src: Union[str, Dict[str,
                                                          Tensor]]) -> dict:
    """Load a BLIP-2 / InstructBLIP Q-Former into a SharedQueryFusion.

    Args:
        fusion (SharedQueryFusion): Target.
        src (str | dict): Checkpoint path/directory, or a state dict, of a
            full BLIP-2/InstructBLIP model (``qformer.*``, ``query_tokens``)
            or of a bare Q-Former.

    Returns:
        dict: ``loaded`` / ``missing`` / ``unexpected`` keys (missing ones
        are MR-MLLM's own: projections and perception gates).
    """
    state = read_state_dict(src) if isinstance(src, str) else src
    pre = 'qformer.' if any(k.startswith('qformer.') for k in state) else ''
    mapping = [(pre + 'embeddings.', 'embeddings.'),
               (pre + 'encoder.', 'encoder.'),
               (pre + 'layernorm.', 'embeddings.layernorm.'),
               ('query_tokens', 'query_tokens')]
    report = load_mapped(fusion, state, mapping)
    MMLogger.get_current_instance().info(
        f'Q-Former: {len(report["loaded"])} keys loaded, missing '
        f'{report["missing"]}, unexpected {report["unexpected"]}')
    return report


def load_instructblip(model: nn.Module, path: str) -> Dict[str, dict]:
    """Load an InstructBLIP (or BLIP-2) directory into an MRMLLM: vision
    tower → ``vision_encoder``, Q-Former → ``fusion``,
    ``language_projection``, language model → ``llm``.

    Args:
        model (MRMLLM): Built with an :class:`HFVisionEncoder` of the same
            architecture and an :class:`LLMHead` of the same LLM.
        path (str): ``save_pretrained`` directory or weights file.

    Returns:
        dict[str, dict]: Per target part, ``loaded`` / ``missing`` /
        ``unexpected`` keys; ``'unused'`` lists source keys no part took.
    """
    state = read_state_dict(path)
    llm = model.llm.model
    if hasattr(llm, 'get_base_model'):
        llm = llm.get_base_model()
    parts = [
        ('vision_encoder', model.vision_encoder.model,
         [('vision_model.', '')]),
        ('language_projection', model.language_projection,
         [('language_projection.', '')]),
        ('llm', llm, [('language_model.', '')]),
    ]
    report = {'fusion': load_qformer(model.fusion, state)}
    for name, module, mapping in parts:
        report[name] = load_mapped(module, state, mapping)
    taken = ('qformer.', 'query_tokens', 'vision_model.',
             'language_projection.', 'language_model.')
    report['unused'] = sorted(k for k in state if not k.startswith(taken))
    for name in ('vision_encoder', 'fusion', 'language_projection', 'llm'):
        model._sources[name] = path
    MMLogger.get_current_instance().info(
        'InstructBLIP ' + path + ': ' + ', '.join(
            f'{k}: {len(v["loaded"])} loaded / {len(v["missing"])} missing'
            for k, v in report.items() if isinstance(v, dict)))
    return report


def summarize(report: Dict[str, dict]) -> Dict[str, List[int]]:
    """Counts (loaded, missing, unexpected) per part of a load report."""
    return {
        k: [len(v['loaded']), len(v['missing']),
            len(v['unexpected'])]
        for k, v in report.items() if isinstance(v, dict)
    }
