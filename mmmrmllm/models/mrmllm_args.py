"""The grouped constructor arguments of :class:`MRMLLM`: their defaults and
the flat keywords of the previous release they replace.

A flat keyword (``use_feedback=False``, ``--cfg-options
model.pretrained_mllm=DIR``) still works for one release: it is mapped into
its group, overriding the group's value, with a warning naming the new key.
"""
import functools
import warnings
from typing import Callable, Dict, Optional, Tuple

from mmengine.logging import print_log

__all__ = ['GROUP_DEFAULTS', 'FLAT_KEYS', 'accepts_flat_keywords',
           'map_flat_keywords', 'resolve_groups', 'model_arg',
           'set_model_arg']

# every key of each group, with its default
GROUP_DEFAULTS: Dict[str, dict] = dict(
    couplings=dict(
        det_feats_in_fusion=True,
        feedback=True,
        box_tokens=True,
        box_token_targets=('llm', ),
        perception_prompt=True,
        detach_det_feats=False),
    detections=dict(
        source='pred', gt_noise=0.05, gt_schedule=None, class_names=None),
    mllm=dict(
        pretrained=None,
        instruction_in_fusion=None,
        instruction_tokenizer=None,
        instruction_text=None),
    losses=dict(
        det_weight=1.0,
        lm_weight=1.0,
        soft_answer_weight=0.0,
        region_text_weight=0.0,
        region_text=None),
    init=dict(
        detector_checkpoint=None, drop_mask_branch=False, lazy_load=False),
)

# flat keyword of the previous release -> (group, key)
FLAT_KEYS: Dict[str, Tuple[str, str]] = dict(
    use_det_feats_in_fusion=('couplings', 'det_feats_in_fusion'),
    use_feedback=('couplings', 'feedback'),
    use_box_tokens=('couplings', 'box_tokens'),
    box_token_targets=('couplings', 'box_token_targets'),
    use_perception_prompt=('couplings', 'perception_prompt'),
    detach_perception=('couplings', 'detach_det_feats'),
    detection_source=('detections', 'source'),
    gt_noise=('detections', 'gt_noise'),
    gt_perception=('detections', 'gt_schedule'),
    class_names=('detections', 'class_names'),
    pretrained_mllm=('mllm', 'pretrained'),
    use_instruction_in_fusion=('mllm', 'instruction_in_fusion'),
    instruction_tokenizer=('mllm', 'instruction_tokenizer'),
    instruction_text=('mllm', 'instruction_text'),
    lambda_det=('losses', 'det_weight'),
    lambda_lm=('losses', 'lm_weight'),
    soft_answer_weight=('losses', 'soft_answer_weight'),
    region_text_weight=('losses', 'region_text_weight'),
    region_text=('losses', 'region_text'),
    detector_checkpoint=('init', 'detector_checkpoint'),
    drop_mask_branch=('init', 'drop_mask_branch'),
    lazy_init_weights=('init', 'lazy_load'),
    generation_cfg=('llm', 'generation_cfg'),
)

# (group, key) -> the flat keyword it replaces
_FLAT_NAME = {v: k for k, v in FLAT_KEYS.items()}
_logged = set()


def _warn(old: str, new: str) -> None:
    msg = (f'MRMLLM: the keyword {old!r} is deprecated and will be removed '
           f'in the next release; use {new} instead')
    warnings.warn(msg, DeprecationWarning, stacklevel=4)
    if old not in _logged:  # configs' users see the log, once
        _logged.add(old)
        print_log(msg, logger='current', level=30)


def map_flat_keywords(kwargs: dict) -> dict:
    """``kwargs`` with the flat keywords of :data:`FLAT_KEYS` moved into
    their groups (a flat value overrides the group's); other keys are left
    as they are.

    ``generation_cfg`` goes into ``llm.generation_cfg`` (merged over it:
    the LLM's defaults, then the LLM config's, then these).
    """
    out = dict(kwargs)
    for old in [k for k in kwargs if k in FLAT_KEYS]:
        value = out.pop(old)
        group, key = FLAT_KEYS[old]
        _warn(old, f'{group}.{key}' if group != 'llm' else
              'llm.generation_cfg')
        if group == 'llm':
            if value and out.get('llm') is not None:
                llm = dict(out['llm'])
                llm['generation_cfg'] = dict(
                    llm.get('generation_cfg') or {}, **value)
                out['llm'] = llm
            continue
        out[group] = dict(out.get(group) or {}, **{key: value})
    return out


def accepts_flat_keywords(init: Callable) -> Callable:
    """Decorate ``MRMLLM.__init__`` to take the previous release's flat
    keywords (:func:`map_flat_keywords`). The signature shown stays the
    grouped one; unknown keywords still raise ``TypeError``."""

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        if any(k in FLAT_KEYS for k in kwargs):
            kwargs = map_flat_keywords(kwargs)
        return init(self, *args, **kwargs)

    return wrapper


def resolve_groups(**groups: Optional[dict]) -> Dict[str, dict]:
    """Each group completed with its defaults.

    Raises:
        TypeError: naming a key a group does not have.
    """
    out = {}
    for name, given in groups.items():
        defaults = GROUP_DEFAULTS[name]
        given = dict(given or {})
        for key in given:
            if key not in defaults:
                raise TypeError(
                    f'MRMLLM got an unknown key {key!r} in {name}=dict(...); '
                    f'its keys: {", ".join(defaults)}')
        out[name] = dict(defaults, **given)
    return out


def model_arg(model: dict, key: str, default=None):
    """The grouped argument ``key`` (``'init.detector_checkpoint'``) of an
    MRMLLM config, or its flat keyword's value if the config has that (a
    config of the previous release; it wins when the model is built).

    Args:
        model (dict): An MRMLLM config.
        key (str): ``'group.key'``.
        default: When neither is set.
    """
    group, sub = key.split('.')
    flat = _FLAT_NAME.get((group, sub))
    if flat is not None and flat in model:
        return model[flat]
    return (model.get(group) or {}).get(sub, default)


def set_model_arg(model: dict, key: str, value) -> None:
    """Set the grouped argument ``key`` (``'mllm.pretrained'``) of an
    MRMLLM config in place, dropping its flat keyword (which would win)."""
    group, sub = key.split('.')
    model.pop(_FLAT_NAME.get((group, sub)), None)
    if model.get(group) is None:
        model[group] = {}
    model[group][sub] = value
