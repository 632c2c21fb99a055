"""The ``config.json`` of an InstructBLIP / BLIP-2 directory (its one
reader) and the part configs read from it, so that
``MRMLLM(pretrained_mllm=DIR)`` needs no copy of its sizes."""
import json
import os.path as osp
from typing import Optional, Tuple

from ..fusion.shared_query_fusion import QFORMER_KEYS

# normalised ``model_type`` (``'-'`` → ``'_'``) → its vision tower's
VISION_TYPES = dict(instructblip='instructblip_vision_model',
                    blip_2='blip_2_vision_model')


def normalize_model_type(model_type: Optional[str]) -> str:
    """``'blip-2'`` → ``'blip_2'``: the one spelling of a directory's
    ``model_type`` in this package (transformers writes ``'blip-2'``)."""
    return (model_type or '').replace('-', '_')


def read_mllm_config(path: str, what: str = 'pretrained_mllm') -> dict:
    """The ``config.json`` of an InstructBLIP / BLIP-2 directory, its
    ``model_type`` normalised (``'instructblip'`` or ``'blip_2'``).

    Args:
        path (str): The directory.
        what (str): What the directory is, for error messages.
            Defaults to ``'pretrained_mllm'``.

    Raises:
        FileNotFoundError: If the directory or its config is missing.
        ValueError: If it is not an InstructBLIP / BLIP-2 config.
    """
    file = osp.join(path, 'config.json')
    if not osp.isfile(file):
        raise FileNotFoundError(
            f'{what} {path!r}: no config.json (a local '
            'InstructBLIP / BLIP-2 save_pretrained directory)')
    with open(file) as f:
        cfg = json.load(f)
    kind = normalize_model_type(cfg.get('model_type'))
    if kind not in VISION_TYPES:
        raise ValueError(f'{what} {path!r}: model_type '
                         f'{cfg.get("model_type")!r} is not instructblip '
                         'or blip-2')
    cfg['model_type'] = kind
    return cfg


def _unset(part: Optional[dict]) -> bool:
    return part is not None and part.get('name_or_path') is None and \
        part.get('model_cfg') is None


def fill_from_pretrained(path: str, vision_encoder: Optional[dict],
                         fusion: Optional[dict], llm: Optional[dict],
                         cfg: Optional[dict] = None
                         ) -> Tuple[Optional[dict], Optional[dict],
                                    Optional[dict]]:
    """Complete the MLLM parts' configs from a pretrained directory.

    A vision encoder or LLM config with neither ``name_or_path`` nor
    ``model_cfg`` is built from the directory's ``vision_config`` /
    ``text_config`` (its weights are then loaded from the directory);
    the LLM's tokenizer defaults to the directory's. The fusion's
    Q-Former settings (sizes, dropout, ...) and query count default to the
    directory's; values
    the config gives win (a mismatch then fails at loading, naming the
    key).

    Args:
        path (str): The InstructBLIP / BLIP-2 directory.
        vision_encoder (dict, optional): :class:`HFVisionEncoder` config.
        fusion (dict, optional): :class:`SharedQueryFusion` config.
        llm (dict, optional): :class:`LLMHead` config.
        cfg (dict, optional): The directory's config, already read by
            :func:`read_mllm_config`; read here if None.

    Returns:
        tuple: The three configs (copies).
    """
    if cfg is None:
        cfg = read_mllm_config(path)
    vision_encoder = dict(vision_encoder) if vision_encoder else None
    fusion = dict(fusion) if fusion else None
    llm = dict(llm) if llm else None
    if _unset(vision_encoder):
        vision = dict(cfg.get('vision_config') or {})
        vision['model_type'] = VISION_TYPES[cfg['model_type']]
        vision_encoder['model_cfg'] = vision
    if fusion is not None:
        qformer = cfg.get('qformer_config') or {}
        for ours, theirs in QFORMER_KEYS:
            if theirs in qformer:
                fusion.setdefault(ours, qformer[theirs])
        if 'num_query_tokens' in cfg:
            fusion.setdefault('num_queries', cfg['num_query_tokens'])
    if _unset(llm):
        text = dict(cfg.get('text_config') or {})
        if 'model_type' not in text:
            raise ValueError(f'pretrained_mllm {path!r}: its text_config '
                             'names no model_type')
        llm['model_cfg'] = text
        if llm.get('tokenizer') is None:
            llm['tokenizer'] = path
    return vision_encoder, fusion, llm
