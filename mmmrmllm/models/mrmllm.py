"""MRMLLM: the joint model of MR-MLLM (arXiv 2406.15768)."""
import copy
import os
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.logging import MessageHub, MMLogger
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmmrmllm.registry import MODELS
from mmmrmllm.utils.part_timer import timed_part

from .data_preprocessors import MRMLLMDataPreprocessor
from .detectors import build_detector_adapter, ensure_loop_info
from .llm import majority_answer
from .perception import PerceptionFeedback, PerceptionPromptGenerator
from .perception.gt_perception import GTPerceptionSchedule, corrupt_objects
from .utils.pretrained import load_instructblip

VARIANTS = ('joint', 'detector_only', 'mllm_only')


class Detections(NamedTuple):
    """Detections of one image for box tokens and the prompt.

    Attributes:
        boxes (Tensor): (K, 4) xyxy normalised to [0, 1].
        labels (Tensor): (K,).
        scores (Tensor): (K,).
    """
    boxes: Tensor
    labels: Tensor
    scores: Tensor


class PerceptionState(NamedTuple):
    """What one forward of the shared trunk produced.

    Attributes:
        feats: Detector neck features.
        feats_fb: The same after feedback (what the head saw).
        det_results: The head's per-image results (predictions in
            inference; no-grad decoded training outputs in training).
        detections: Normalised detections the LLM side read.
        queries: Shared queries (B, Nq, C).
        llm_box_tokens: Per-image box tokens for the LLM.
        det_losses: The detector's losses (training).
    """
    feats: Optional[Tuple[Tensor, ...]]
    feats_fb: Optional[Tuple[Tensor, ...]]
    det_results: Optional[List[InstanceData]]
    detections: Optional[List[Detections]]
    queries: Optional[Tensor]
    llm_box_tokens: Optional[List[Tensor]]
    det_losses: dict = {}


def sample_name(sample: DetDataSample, index: int) -> str:
    """A readable id of a sample for error messages."""
    meta = sample.metainfo
    for key in ('img_path', 'img_id'):
        if meta.get(key) is not None:
            return f'{key}={meta[key]}'
    return f'#{index} of the batch'


def has_det_ann(sample: DetDataSample) -> bool:
    """Whether the sample's boxes were annotated (docs/contracts.md)."""
    return bool(sample.metainfo.get('has_det_ann', 'gt_instances' in sample))


def questions_of(sample: DetDataSample) -> List[str]:
    return list(sample.get('questions', None) or [])


def _neck_channels(detector_cfg: dict) -> Optional[List[int]]:
    """Per-level widths of the detector neck, from its config (None when
    the config does not say: no single ``out_channels`` and ``num_outs``).
    """
    neck = detector_cfg.get('neck')
    if isinstance(neck, (list, tuple)):
        neck = neck[-1] if neck else None
    if not isinstance(neck, dict):
        return None
    out = neck.get('out_channels')
    if isinstance(out, (list, tuple)) and all(
            isinstance(c, int) for c in out):
        return list(out)
    num = neck.get('num_outs')
    if isinstance(out, int) and isinstance(num, int):
        return [out] * num
    return None


def _drop_mask_branch(det_cfg: dict) -> None:
    """Remove the mask branch of an instance-segmentation detector config
    in place (``roi_head.mask_head`` / ``mask_roi_extractor`` and the
    semantic branch of HTC), logging what was dropped."""
    roi = det_cfg.get('roi_head')
    dropped = []
    if isinstance(roi, dict):
        for key in ('mask_head', 'mask_roi_extractor', 'semantic_head',
                    'semantic_roi_extractor'):
            if roi.pop(key, None) is not None:
                dropped.append(f'roi_head.{key}')
        if 'mask_info_flow' in roi:
            roi['mask_info_flow'] = False
    MMLogger.get_current_instance().info(
        f'drop_mask_branch: {det_cfg.get("type")} built without '
        f'{", ".join(dropped) or "a mask branch (it has none)"}; it trains '
        'and predicts boxes only')


@torch.no_grad()
def probe_neck_channels(detector: nn.Module) -> List[int]:
    """Per-level widths of a built detector's ``extract_feat`` output, by
    one eval-mode forward of a blank image (on the meta device when the
    detector was built there).

    Raises:
        ValueError: If the forward fails, naming the keys to set instead.
    """
    param = next(detector.parameters(), None)
    device = param.device if param is not None else 'cpu'
    was_training = detector.training
    detector.train(False)
    errors = []
    try:
        for size in (256, 512):
            try:
                feats = detector.extract_feat(
                    torch.zeros(1, 3, size, size, device=device))
                return [int(f.shape[1]) for f in feats]
            except Exception as err:  # too small an input, ...
                errors.append(f'{size}px: {type(err).__name__}: {err}')
    finally:
        detector.train(was_training)
    raise ValueError(
        'cannot read the detector neck widths (a blank-image forward of '
        f'extract_feat failed: {"; ".join(errors)[:300]}); set '
        'fusion.perception_dims and feedback.in_channels')


@MODELS.register_module()
class MRMLLM(BaseModel):
    """MR-MLLM: a detector and a multimodal LLM that reinforce each other.

    Perception forward: the detector's backbone + neck run once
    (``Vf_p``). Visual forward: the vision encoder (``Vf_m``).
    :class:`SharedQueryFusion` fuses both into ``Q_shared``, which goes (a)
    back to the detector through :class:`PerceptionFeedback` before its
    head and (b) through ``language_projection`` to the LLM as soft tokens.
    The head then runs once per image: the detection loss (training) or the
    predictions (inference), and its decoded outputs (no-grad) are the
    detections that become box tokens (:class:`PerceptionEncoder`) and the
    perception prompt (:class:`PerceptionPromptGenerator`) after the soft
    tokens. Box tokens into the fusion need detections before it: with
    feedback that costs a second, no-grad head pass (see ``_perceive``).

    Losses: ``det.<detector loss>`` scaled by ``lambda_det`` over samples
    with ``has_det_ann=True`` and ``lm.loss_lm`` scaled by ``lambda_lm`` over
    (image, question) sequences. A batch where neither applies returns only
    ``loss_empty``: a zero tied to every trainable parameter, so
    backward/DDP still work; it is never added to real losses.

    Args:
        detector (dict, optional): A plain mmdet detector config (its
            ``data_preprocessor`` becomes the detector view's). None only
            with ``variant='mllm_only'``.
        detector_checkpoint (str, optional): mmdet checkpoint for it.
        vision_encoder (dict, optional): e.g. :class:`HFVisionEncoder`.
        fusion (dict, optional): :class:`SharedQueryFusion` kwargs;
            ``vision_dims`` / ``perception_dims`` are filled in.
        feedback (dict, optional): :class:`PerceptionFeedback` kwargs.
        perception_encoder (dict, optional): :class:`PerceptionEncoder`
            kwargs; ``label_dims`` / ``out_dims`` are filled in.
        prompt_generator (dict, optional): :class:`PerceptionPromptGenerator`
            kwargs.
        llm (dict, optional): :class:`LLMHead` config.
        data_preprocessor (dict, optional): :class:`MRMLLMDataPreprocessor`
            config; ``det`` defaults to the detector's own.
        lambda_det (float): Detection-loss weight.
        lambda_lm (float): LM-loss weight.
        variant (str): Which parts are built: ``'joint'`` (MR-MLLM),
            ``'detector_only'`` or ``'mllm_only'`` (the baselines). (Not
            MMEngine's forward ``mode``: loss / predict / tensor.)
        use_det_feats_in_fusion (bool): Detector features in the fusion
            memory (Eq. 1).
        use_feedback (bool): Shared queries back into the detector.
        use_box_tokens (bool): Embedded detections as tokens.
        box_token_targets (Sequence[str]): ``'llm'`` (default) and/or
            ``'fusion'`` (the fusion memory; with feedback on this needs a
            second, no-grad head pass before the fusion).
        use_perception_prompt (bool): Detections written into the prompt.
        detach_perception (bool): Stop the LM loss's gradient at the
            detector features.
        detection_source (str): ``'pred'`` (no-grad eval pass, default) or
            ``'gt'`` (training only: jittered ground truth where annotated,
            predictions elsewhere).
        gt_noise (float): Box jitter for ``'gt'``, fraction of box size.
        gt_perception (dict, optional): :class:`GTPerceptionSchedule`
            kwargs: in training, samples with annotated boxes take their
            box tokens and prompt from corrupted ground truth with a
            probability that decays over the iterations, from the
            detections otherwise. None (default; real datasets) always uses
            the detections. Not with ``detection_source='gt'``.
        class_names (Sequence[str], optional): Detector classes; defaults
            to the samples' ``metainfo['classes']`` or ``dataset_meta``.
        generation_cfg (dict, optional): Overrides the LLM's defaults.
        pretrained_mllm (str, optional): A local HF InstructBLIP / BLIP-2
            directory (``save_pretrained``) loaded into the vision encoder,
            fusion (Q-Former), language projection and LLM by
            :func:`load_instructblip`; the per-part report of loaded /
            missing / unexpected keys is logged and kept in
            ``self.pretrained_report``.
        drop_mask_branch (bool): Build an instance-segmentation detector
            (Mask R-CNN, Cascade Mask R-CNN, HTC, ...) without its mask
            branch, to train it on box-only data (logged). Without it, such
            a detector needs ``gt_instances.masks`` in every annotated
            sample (``LoadAnnotations(with_mask=True)``). Defaults to False.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 detector: Optional[dict] = None,
                 detector_checkpoint: Optional[str] = None,
                 vision_encoder: Optional[dict] = None,
                 fusion: Optional[dict] = None,
                 feedback: Optional[dict] = None,
                 perception_encoder: Optional[dict] = None,
                 prompt_generator: Optional[dict] = None,
                 llm: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 lambda_det: float = 1.0,
                 lambda_lm: float = 1.0,
                 variant: str = 'joint',
                 use_det_feats_in_fusion: bool = True,
                 use_feedback: bool = True,
                 use_box_tokens: bool = True,
                 box_token_targets: Sequence[str] = ('llm', ),
                 use_perception_prompt: bool = True,
                 detach_perception: bool = False,
                 detection_source: str = 'pred',
                 gt_noise: float = 0.05,
                 gt_perception: Optional[dict] = None,
                 class_names: Optional[Sequence[str]] = None,
                 generation_cfg: Optional[dict] = None,
                 pretrained_mllm: Optional[str] = None,
                 drop_mask_branch: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        mode = variant
        if mode not in VARIANTS:
            raise ValueError(
                f'variant must be one of {VARIANTS}, got {mode!r}')
        if detection_source not in ('pred', 'gt'):
            raise ValueError(f'unknown detection_source {detection_source!r}')
        if mode != 'mllm_only' and detector is None:
            raise ValueError(f'variant={mode!r} needs a detector config')
        if mode != 'detector_only':
            for key, val in (('vision_encoder', vision_encoder),
                             ('fusion', fusion), ('llm', llm)):
                if val is None:
                    raise ValueError(f'variant={mode!r} needs {key}')
        if mode == 'mllm_only':
            detector = None
        det_cfg = None
        if detector is not None:
            if not isinstance(detector, dict) or 'type' not in detector:
                raise TypeError('detector must be an mmdet model config dict '
                                f'with a type, got {detector!r}')
            # mmdet reads train_cfg/test_cfg by attribute (ConfigDict).
            det_cfg = ConfigDict(copy.deepcopy(dict(detector)))
            if drop_mask_branch:
                _drop_mask_branch(det_cfg)
        joint = mode == 'joint'
        self.variant = mode
        self.use_det_feats_in_fusion = joint and use_det_feats_in_fusion
        self.use_feedback = joint and use_feedback
        self.use_box_tokens = joint and use_box_tokens
        self.use_perception_prompt = joint and use_perception_prompt
        self.detach_perception = detach_perception
        self.detection_source = detection_source
        if detection_source == 'gt':
            if gt_perception is not None:
                raise ValueError("gt_perception is a schedule for "
                                 "detection_source='pred'; 'gt' always "
                                 'uses the ground truth')
            gt_perception = dict(
                prob_start=1.0, prob_end=1.0, decay_iters=0,
                corrupt=dict(drop=0.0, add=0.0, jitter=gt_noise))
        self.gt_schedule = GTPerceptionSchedule(**gt_perception) \
            if gt_perception is not None else None
        self.lambda_det = lambda_det
        self.lambda_lm = lambda_lm
        self.class_names = list(class_names) if class_names else None

        det_pre = None
        if det_cfg is not None:
            det_pre = det_cfg.pop('data_preprocessor', None) or dict(
                type='mmdet.DetDataPreprocessor')
        pre_cfg = dict(data_preprocessor or dict(type=MRMLLMDataPreprocessor))
        pre_cfg.setdefault('det', det_pre)
        if mode == 'detector_only':
            pre_cfg['enc'] = None
        if mode == 'mllm_only':
            pre_cfg['det'] = None
        super().__init__(
            data_preprocessor=MODELS.build(pre_cfg), init_cfg=init_cfg)

        self._sources: Dict[str, str] = {}
        self.detector = None
        self.det_adapter = None
        if det_cfg is not None:
            self.detector = self._build_detector(det_cfg)
            self.det_adapter = build_detector_adapter(self.detector)
            if self.class_names:  # text-conditioned detectors' prompt
                self.det_adapter.class_names = tuple(self.class_names)
            # Initialise now (some mmdet parameters, e.g. DINO's
            # level_embed, are uninitialised memory until init_weights),
            # so that a checkpoint loaded next is not re-initialised later
            # by the Runner (see init_weights).
            # (Parameters built on the meta device hold no data to init.)
            if not any(p.is_meta for p in self.detector.parameters()):
                self.detector.init_weights()
            if detector_checkpoint is not None:
                self._load_detector(detector_checkpoint)
        self.neck_channels = None
        if self.detector is not None and (
                self.use_det_feats_in_fusion or self.use_feedback):
            missing = (
                self.use_det_feats_in_fusion
                and (fusion or {}).get('perception_dims') is None) or (
                    self.use_feedback
                    and (feedback or {}).get('in_channels') is None)
            if missing:
                # from the neck config, else from one blank-image forward
                self.neck_channels = _neck_channels(det_cfg) or \
                    probe_neck_channels(self.detector)
        neck_ch = self.neck_channels
        if neck_ch and len(set(neck_ch)) == 1:
            neck_ch = neck_ch[0]  # one width: one projection (as before)

        self.vision_encoder = self.fusion = self.llm = None
        self.language_projection = self.feedback = None
        self.perception_encoder = self.prompt_generator = None
        if mode != 'detector_only':
            self.vision_encoder = MODELS.build(vision_encoder)
            self._sources['vision_encoder'] = getattr(self.vision_encoder,
                                                      'source', None)
            fusion = dict(fusion)
            fusion.setdefault('type', 'SharedQueryFusion')
            fusion.setdefault('vision_dims', self.vision_encoder.embed_dims)
            if self.use_det_feats_in_fusion:
                if fusion.get('perception_dims') is None:
                    fusion['perception_dims'] = self._need(
                        neck_ch, 'fusion', 'perception_dims')
            else:
                fusion['perception_dims'] = None
            self.fusion = MODELS.build(fusion)
            self.llm = MODELS.build(llm)
            self._sources['llm'] = getattr(self.llm, 'source', None)
            if generation_cfg:
                self.llm.generation_cfg.update(generation_cfg)
            self.language_projection = nn.Linear(self.fusion.hidden_size,
                                                 self.llm.hidden_size)
        if self.use_feedback:
            fb = dict(feedback or {})
            fb.setdefault('type', PerceptionFeedback)
            if fb.get('in_channels') is None:
                fb['in_channels'] = self._need(neck_ch, 'feedback',
                                               'in_channels')
                if self.neck_channels and fb.get('num_levels') is None:
                    fb['num_levels'] = len(self.neck_channels)
            fb.setdefault('query_dims', self.fusion.hidden_size)
            self.feedback = MODELS.build(fb)
        if self.use_box_tokens:
            targets = tuple(box_token_targets)
            dims = dict(fusion=self.fusion.memory_dims,
                        llm=self.llm.hidden_size)
            pe = dict(perception_encoder or {})
            pe.setdefault('type', 'PerceptionEncoder')
            pe.setdefault('label_dims', self.llm.hidden_size)
            pe.setdefault('out_dims', {t: dims[t] for t in targets})
            self.perception_encoder = MODELS.build(pe)
        if self.use_perception_prompt:
            pg = dict(prompt_generator or {})
            pg.setdefault('type', PerceptionPromptGenerator)
            self.prompt_generator = MODELS.build(pg)
        self._label_cache: Dict[tuple, Tensor] = {}
        # set by PartTimer.attach (tools/analysis_tools/benchmark.py, ...)
        self.part_timer = None
        self.load_report: Optional[dict] = None
        self.pretrained_report: Optional[dict] = None
        if pretrained_mllm is not None:
            if mode == 'detector_only':
                raise ValueError('pretrained_mllm needs the MLLM parts; '
                                 "variant='detector_only' has none")
            if not os.path.exists(pretrained_mllm):
                raise FileNotFoundError(
                    f'pretrained_mllm {pretrained_mllm!r} not found (a local '
                    'InstructBLIP / BLIP-2 save_pretrained directory)')
            self.pretrained_report = load_instructblip(self, pretrained_mllm)
        self._register_state_dict_hook(MRMLLM._drop_frozen_hook)
        self.register_load_state_dict_pre_hook(MRMLLM._fill_frozen_hook)

    # ----------------------------------------------------------- building
    @staticmethod
    def _need(value, part, key):
        if value is None:
            raise ValueError(
                f'cannot read the detector neck channels from its config; '
                f'set {part}.{key}')
        return value

    @staticmethod
    def _build_detector(cfg: dict) -> nn.Module:
        try:
            return MODELS.build(cfg)
        except Exception as e:
            raise ValueError(
                f'could not build the detector {cfg.get("type")!r} from its '
                f'config: {type(e).__name__}: {e}') from e

    def _load_detector(self, path: str) -> None:
        from mmengine.runner.checkpoint import _load_checkpoint
        ckpt = _load_checkpoint(path, map_location='cpu')
        state = ckpt.get('state_dict', ckpt)
        state = {
            k[len('detector.'):] if k.startswith('detector.') else k: v
            for k, v in state.items()
        }
        res = self.detector.load_state_dict(state, strict=False)
        MMLogger.get_current_instance().info(
            f'detector checkpoint {path}: '
            f'{len(state) - len(res.unexpected_keys)} keys loaded, missing '
            f'{list(res.missing_keys)}, unexpected '
            f'{list(res.unexpected_keys)}')
        self._sources['detector'] = path

    def init_weights(self) -> None:
        """Initialise the MR-MLLM parts only.

        The detector was initialised (and possibly loaded) at build time; the
        vision encoder and the LLM come initialised from their builders or
        pretrained directories, which a second initialisation would wipe.
        """
        skip = ('detector', 'vision_encoder', 'llm', 'data_preprocessor')
        for name, child in self.named_children():
            if name not in skip and hasattr(child, 'init_weights'):
                child.init_weights()

    # ------------------------------------------------- checkpoint handling
    def _frozen_components(self) -> List[str]:
        out = []
        if self.vision_encoder is not None and self.vision_encoder.frozen:
            out.append('vision_encoder')
        if self.llm is not None and self.llm.frozen:
            out.append('llm')
        return out

    def frozen_state_keys(self) -> List[str]:
        """State-dict keys kept out of checkpoints.

        Frozen components (vision encoder, LLM) entirely, plus every frozen
        parameter elsewhere (LoRA base weights, frozen detector stages) and
        the buffers of modules whose parameters are all frozen (e.g. BN
        statistics of frozen stages).

        Returns:
            list[str]: Keys relative to this model.
        """
        comps = tuple(c + '.' for c in self._frozen_components())
        keys = []
        # tied weights (an LLM's lm_head / embed_tokens) appear under every
        # name in the state dict
        for name, p in self.named_parameters(remove_duplicate=False):
            if name.startswith(comps) or not p.requires_grad:
                keys.append(name)
        for mod_name, mod in self.named_modules(remove_duplicate=False):
            params = list(mod.parameters(recurse=False))
            all_frozen = bool(params) and not any(p.requires_grad
                                                 for p in params)
            for buf_name, buf in mod.named_buffers(recurse=False):
                if buf_name in mod._non_persistent_buffers_set:
                    continue
                full = f'{mod_name}.{buf_name}' if mod_name else buf_name
                if all_frozen or full.startswith(comps):
                    keys.append(full)
        return keys

    @staticmethod
    def _drop_frozen_hook(module, state_dict, prefix, local_metadata):
        for key in module.frozen_state_keys():
            state_dict.pop(prefix + key, None)
        return state_dict

    def _source_of(self, key: str) -> str:
        top = key.split('.', 1)[0]
        src = self._sources.get(top)
        if key.startswith('fusion.') and 'fusion' in self._sources:
            src = self._sources['fusion']
        return src or 'random init'

    def _persistent_state(self) -> Dict[str, Tensor]:
        state = dict(self.named_parameters(remove_duplicate=False))
        for mod_name, mod in self.named_modules(remove_duplicate=False):
            for name, buf in mod.named_buffers(recurse=False):
                if name not in mod._non_persistent_buffers_set:
                    state[f'{mod_name}.{name}' if mod_name else name] = buf
        return state

    @staticmethod
    def _fill_frozen_hook(module, state_dict, prefix, local_metadata, strict,
                          missing_keys, unexpected_keys, error_msgs):
        current = module._persistent_state()
        frozen = set(module.frozen_state_keys())
        incoming = {
            k[len(prefix):]
            for k in state_dict if k.startswith(prefix)
        }
        report = dict(checkpoint=[], kept={}, missing=[], unexpected=[])
        for key, val in current.items():
            if key in incoming:
                report['checkpoint'].append(key)
            elif key in frozen:
                # Frozen weights are not saved: keep what was loaded when
                # the model was built (pretrained directory or init).
                state_dict[prefix + key] = val.detach()
                report['kept'].setdefault(module._source_of(key),
                                          []).append(key)
            else:
                report['missing'].append(key)
        report['unexpected'] = sorted(incoming - set(current))
        module.load_report = report
        kept = {k: len(v) for k, v in report['kept'].items()}
        MMLogger.get_current_instance().info(
            f'MRMLLM load: {len(report["checkpoint"])} keys from the '
            f'checkpoint; frozen keys kept from their sources: {kept}; '
            f'missing: {report["missing"]}; unexpected: '
            f'{report["unexpected"]}')

    def weight_sources(self) -> Dict[str, str]:
        """Where each component's weights came from at build time.

        Returns:
            dict[str, str]: component → local path or ``'random init'``.
        """
        comps = [
            n for n, _ in self.named_children() if n != 'data_preprocessor'
        ]
        return {c: self._sources.get(c) or 'random init' for c in comps}

    # ------------------------------------------------------------ helpers
    def _classes(self, samples: Sequence[DetDataSample]) -> List[str]:
        if self.class_names:
            return self.class_names
        for s in samples:
            classes = s.metainfo.get('classes')
            if classes:
                return list(classes)
        meta = getattr(self, 'dataset_meta', None) or {}
        if meta.get('classes'):
            return list(meta['classes'])
        raise ValueError('MRMLLM needs the class names for box tokens / the '
                         'perception prompt: set class_names or put '
                         "'classes' in the samples' metainfo")

    def _label_embeds(self, names: Sequence[str]) -> Tensor:
        key = tuple(names)
        if self.llm.frozen and key in self._label_cache:
            return self._label_cache[key]
        emb = self.llm.embed_texts(names)
        if self.llm.frozen:
            self._label_cache = {key: emb}
        return emb

    def _validate(self, samples: Sequence[DetDataSample]) -> None:
        with_mask = self.detector is not None and getattr(
            self.detector, 'with_mask', False)
        for i, s in enumerate(samples):
            if with_mask and has_det_ann(s) and 'masks' not in s.get(
                    'gt_instances', {}):
                raise ValueError(
                    f'sample {sample_name(s, i)} has boxes but no masks, '
                    f'and the detector {type(self.detector).__name__} has a '
                    'mask branch: load masks (LoadAnnotations(with_mask='
                    'True)) or set model.drop_mask_branch=True to train on '
                    'boxes only')
            if not has_det_ann(s) and not questions_of(s):
                raise ValueError(
                    f'sample {sample_name(s, i)} has neither box annotations '
                    '(has_det_ann=False) nor questions')
            qs = questions_of(s)
            if qs and len(s.get('gt_answers', None) or []) != len(qs):
                raise ValueError(
                    f'sample {sample_name(s, i)} has {len(qs)} questions but '
                    f'{len(s.get("gt_answers", None) or [])} answer lists')

    @torch.no_grad()
    def _detect(self, feats: Sequence[Tensor],
                samples: Sequence[DetDataSample],
                rescale: bool = True) -> List[InstanceData]:
        """A no-grad, eval-mode head pass (training-mode DETR heads add
        denoising queries)."""
        was_training = self.detector.training
        self.detector.train(False)
        try:
            with timed_part(self, 'detector.head', len(samples)):
                return self.det_adapter.predict_from_feats(
                    feats, list(samples), rescale=rescale)
        finally:
            self.detector.train(was_training)

    def _det_pass(self, feats: Sequence[Tensor],
                  samples: Sequence[DetDataSample], training: bool,
                  want_results: bool, rescale: bool = True):
        """The detector head's one pass over (possibly fed-back) features.

        Training: the detection loss over the samples with annotated boxes
        and, if ``want_results``, their detections decoded from the same
        forward (no-grad copies, denoising queries excluded); samples
        without annotated boxes take a no-grad, eval-mode pass. Inference:
        the predictions. Each image goes through the head once.

        Returns:
            tuple[dict, list[InstanceData] | None]: Losses (empty in
            inference) and per-image results in batch order.
        """
        ensure_loop_info()
        if not training:
            with timed_part(self, 'detector.head', len(samples)):
                return {}, self.det_adapter.predict_from_feats(
                    feats, list(samples), rescale=rescale)
        idx = [i for i, s in enumerate(samples) if has_det_ann(s)]
        rest = [i for i in range(len(samples)) if i not in set(idx)]

        def subset(ids):
            if len(ids) == len(samples):
                return tuple(feats)
            sel = torch.tensor(ids, device=feats[0].device)
            return tuple(f.index_select(0, sel) for f in feats)

        losses, results = {}, [None] * len(samples)
        if idx:
            sub = [samples[i] for i in idx]
            with timed_part(self, 'detector.head', len(idx)):
                if want_results:
                    losses, res = self.det_adapter.\
                        loss_and_predict_from_feats(subset(idx), sub,
                                                    rescale=rescale)
                    for i, r in zip(idx, res):
                        results[i] = r
                else:
                    losses = self.det_adapter.loss_from_feats(
                        subset(idx), sub)
        if want_results and rest:
            res = self._detect(subset(rest), [samples[i] for i in rest],
                               rescale)
            for i, r in zip(rest, res):
                results[i] = r
        return losses, results if want_results else None

    def _normalise(self, results: Sequence[InstanceData],
                   samples: Sequence[DetDataSample],
                   rescaled: bool = True) -> List[Detections]:
        """Boxes as fractions of the image they are expressed in."""
        key = 'ori_shape' if rescaled else 'img_shape'
        out = []
        for r, s in zip(results, samples):
            h, w = s.metainfo[key][:2]
            scale = r.bboxes.new_tensor([w, h, w, h])
            out.append(
                Detections((r.bboxes / scale).clamp(0, 1), r.labels,
                           r.scores))
        return out

    def _gt_detections(self, samples: Sequence[DetDataSample],
                       fallback: List[Detections]) -> List[Detections]:
        """Corrupted ground truth instead of ``fallback`` (detections) for
        annotated samples, each with the schedule's current probability."""
        it = MessageHub.get_current_instance().get_info('iter', 0)
        prob = self.gt_schedule.prob(it)
        # drawn from torch's generator: seeded and resumed like the rest
        rng = np.random.default_rng(int(torch.randint(2**31, ())))
        num_classes = len(self._classes(samples))
        out = []
        for s, pred in zip(samples, fallback):
            if not has_det_ann(s) or rng.random() >= prob:
                out.append(pred)
                continue
            gt = s.gt_instances
            boxes = gt.bboxes
            boxes = boxes.tensor if hasattr(boxes, 'tensor') else boxes
            h, w = s.metainfo['img_shape'][:2]
            boxes = boxes / boxes.new_tensor([w, h, w, h])
            nb, nl = corrupt_objects(rng, boxes.detach().cpu().numpy(),
                                     gt.labels.cpu().numpy(), num_classes,
                                     **self.gt_schedule.corrupt)
            boxes = torch.as_tensor(nb, dtype=boxes.dtype,
                                    device=boxes.device)
            labels = torch.as_tensor(nl, device=gt.labels.device)
            out.append(Detections(boxes, labels, torch.ones_like(
                labels, dtype=boxes.dtype)))
        return out

    # ------------------------------------------------------------ trunk
    def _detections(self, results: List[InstanceData],
                    samples: Sequence[DetDataSample], training: bool,
                    rescaled: bool) -> List[Detections]:
        """Normalised detections for box tokens and the prompt (with the
        scheduled ground truth in training)."""
        detections = self._normalise(results, samples, rescaled)
        if training and self.gt_schedule is not None:
            detections = self._gt_detections(samples, detections)
        return detections

    def _box_tokens(self, detections: List[Detections],
                    samples: Sequence[DetDataSample]) -> dict:
        names = self._classes(samples)
        with timed_part(self, 'perception_encoder', len(samples)):
            return self.perception_encoder(
                [d.boxes for d in detections], [d.labels for d in detections],
                [d.scores for d in detections], self._label_embeds(names))

    def _perceive(self, inputs: dict, samples: Sequence[DetDataSample],
                  training: bool, outputs: bool = True,
                  rescale: bool = True) -> PerceptionState:
        """One forward of the shared trunk.

        Order: detector backbone + neck → vision encoder → fusion →
        feedback → the detector head's single pass over the fed-back
        features, whose decoded outputs give the detections for the LLM's
        box tokens and prompt (and, in inference, the predictions). Box
        tokens *into the fusion* need detections before the fusion: with
        feedback on, that takes a no-grad pre-pass of the head over the
        features before feedback (a second head pass, which only this
        switch costs); without feedback the single pass simply moves first.

        Args:
            training (bool): Loss forward (detection losses, ground-truth
                schedule) or inference.
            outputs (bool): Run the head for the predictions even if
                nothing else needs them (False for ``mode='tensor'``).
            rescale (bool): Predictions in original-image pixels.
        """
        n = len(samples)
        feats = feats_fb = results = detections = None
        queries = llm_tokens = None
        losses = {}
        if self.detector is not None:
            with timed_part(self, 'detector.extract', n):
                feats = tuple(self.det_adapter.extract(inputs['det']))
        if self.variant == 'detector_only':
            if training or outputs:
                losses, results = self._det_pass(
                    feats, samples, training, not training, rescale)
            return PerceptionState(feats, feats, results, None, None, None,
                                   losses)
        need_dets = self.use_box_tokens or self.use_perception_prompt
        fusion_boxes = self.use_box_tokens and \
            'fusion' in self.perception_encoder.targets
        head_done = False
        with timed_part(self, 'vision_encoder', n):
            vis = self.vision_encoder(inputs['enc'])
        fusion_tokens = fusion_mask = None
        box_out = {}
        if fusion_boxes:
            if self.use_feedback:
                pre = self._detect(feats, samples)
                detections = self._detections(pre, samples, training, True)
            else:
                # nothing changes the features: the one pass goes first
                losses, results = self._det_pass(feats, samples, training,
                                                 True, rescale)
                head_done = True
                detections = self._detections(results, samples, training,
                                              rescale or training)
            box_out = self._box_tokens(detections, samples)
            fusion_tokens, fusion_mask = box_out['fusion']
        fusion_kwargs = {}
        if self.use_det_feats_in_fusion:
            p_feats = feats
            if self.detach_perception:
                p_feats = tuple(f.detach() for f in feats)
            fusion_kwargs = dict(
                perception_feats=p_feats,
                valid_hw=[tuple(s.metainfo['img_shape'][:2])
                          for s in samples],
                pad_hw=tuple(inputs['det'].shape[-2:]))
        with timed_part(self, 'fusion', n):
            queries = self.fusion(
                vis.tokens,
                vis.num_prefix,
                vis.grid,
                perception_tokens=fusion_tokens,
                perception_mask=fusion_mask,
                **fusion_kwargs)
        feats_fb = feats
        if self.use_feedback:
            with timed_part(self, 'feedback', n):
                feats_fb = self.feedback(feats, queries)
        if feats is not None and not head_done and (
                training or outputs or need_dets):
            want = (need_dets and detections is None) or not training
            losses, results = self._det_pass(feats_fb, samples, training,
                                             want, rescale)
            if need_dets and detections is None:
                detections = self._detections(results, samples, training,
                                              rescale or training)
        if self.use_box_tokens:
            if not box_out:
                box_out = self._box_tokens(detections, samples)
            if 'llm' in box_out:
                llm_tokens = self.perception_encoder.split(*box_out['llm'])
        return PerceptionState(feats, feats_fb, results, detections,
                               queries, llm_tokens, losses)

    def _lm_sequences(self, state: PerceptionState,
                      samples: Sequence[DetDataSample], training: bool):
        """Visual embeddings and encoded prompts of every (image, question)
        pair, plus the image index of each."""
        soft = self.language_projection(state.queries)
        names = self._classes(samples) if self.use_perception_prompt \
            else None
        visual, prompts, owners = [], [], []
        for i, s in enumerate(samples):
            qs = questions_of(s)
            if not qs:
                continue
            vis = soft[i]
            if state.llm_box_tokens is not None:
                vis = torch.cat([vis, state.llm_box_tokens[i]], dim=0)
            perception, n_obj = None, 0
            if self.use_perception_prompt:
                d = state.detections[i]
                objects = self.prompt_generator.select(
                    d.boxes, d.labels, d.scores, training)
                n_obj = len(objects)
                gen = self.prompt_generator

                def perception(drop, objects=objects):
                    return gen.render(objects, names, drop)

            answers = [majority_answer(a) for a in s.gt_answers] \
                if training else None
            enc, dropped = self.llm.encode_image_prompts(
                qs, answers, len(vis), perception, n_obj,
                sample_name(s, i))
            skipped = [j for j, e in enumerate(enc) if e is None]
            s.set_metainfo(dict(prompt_objects_dropped=dropped,
                                skipped_questions=skipped))
            enc = [e for e in enc if e is not None]
            visual += [vis] * len(enc)
            prompts += enc
            owners += [i] * len(enc)
        return visual, prompts, owners

    # ---------------------------------------------------------- BaseModel
    def forward(self,
                inputs: dict,
                data_samples: Optional[List[DetDataSample]] = None,
                mode: str = 'tensor'):
        """``mode``: ``'loss'`` → dict of losses, ``'predict'`` → samples,
        ``'tensor'`` → shared queries (B, Nq, C) (detector features in
        ``detector_only``)."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            state = self._perceive(inputs, data_samples or [], False,
                                   outputs=False)
            return state.feats if self.variant == 'detector_only' \
                else state.queries
        raise ValueError(f'unknown mode {mode!r}')

    def _scaled(self, losses: dict, prefix: str, weight: float) -> dict:
        out = {}
        for key, val in losses.items():
            if 'loss' in key:
                val = [v * weight for v in val] if isinstance(
                    val, (list, tuple)) else val * weight
            out[f'{prefix}.{key}'] = val
        return out

    def loss(self, inputs: dict,
             data_samples: List[DetDataSample]) -> Dict[str, Tensor]:
        """Joint losses.

        Args:
            inputs (dict): ``det`` (B, 3, Hp, Wp), ``enc`` (B, 3, h, w).
            data_samples (list[DetDataSample]): See docs/contracts.md.

        Returns:
            dict[str, Tensor]: ``det.*`` and ``lm.loss_lm``, or only
            ``loss_empty`` when no sample carries a usable target.
        """
        self._validate(data_samples)
        state = self._perceive(inputs, data_samples, True)
        losses = self._scaled(state.det_losses, 'det', self.lambda_det)
        if self.llm is not None:
            with timed_part(self, 'prompts', len(data_samples)):
                visual, prompts, _ = self._lm_sequences(
                    state, data_samples, True)
            # called even without questions: distributed, it sums the
            # answer-token count over ranks (every rank must take part)
            with timed_part(self, 'llm', len(prompts)):
                lm = self.llm.loss(visual, prompts)
            if 'loss' in lm:
                losses['lm.loss_lm'] = lm['loss'] * self.lambda_lm
        if not losses:
            losses['loss_empty'] = sum(
                p.sum() * 0 for p in self.parameters() if p.requires_grad)
        return losses

    def predict(self,
                inputs: dict,
                data_samples: List[DetDataSample],
                rescale: bool = True,
                **generation_kwargs) -> List[DetDataSample]:
        """Detect and answer.

        Args:
            inputs (dict): ``det`` (B, 3, Hp, Wp), ``enc`` (B, 3, h, w).
            data_samples (list[DetDataSample]): Metainfo and questions.
            rescale (bool): Boxes in original-image pixels.
            **generation_kwargs: Override ``generation_cfg``.

        Returns:
            list[DetDataSample]: With ``pred_instances`` (if a detector)
            and ``pred_answers`` (one per question, if an LLM).
        """
        state = self.perceive(inputs, data_samples, rescale)
        if self.detector is not None:
            for s, r in zip(data_samples, state.det_results):
                s.pred_instances = r
        if self.llm is not None:
            answers = self.answer(state, data_samples, **generation_kwargs)
            for s, a in zip(data_samples, answers):
                s.pred_answers = a
        return data_samples

    def perceive(self, inputs: dict, data_samples: List[DetDataSample],
                 rescale: bool = True) -> PerceptionState:
        """Inference-mode perception of a batch, for :meth:`answer`.

        Runs everything but the LLM once per image (detector, vision
        encoder, fusion, feedback, box tokens): an interactive user can
        then ask any number of questions about the images without running
        them again (``tools/webui.py``).

        Returns:
            PerceptionState: ``det_results`` holds the predictions.
        """
        return self._perceive(inputs, data_samples, False, rescale=rescale)

    def answer(self, state: PerceptionState,
               data_samples: List[DetDataSample],
               return_prompts: bool = False, **generation_kwargs):
        """Answer the samples' ``questions`` from a :meth:`perceive` state
        of the same batch.

        Args:
            state (PerceptionState): From :meth:`perceive`.
            data_samples (list[DetDataSample]): The same images, with the
                questions to answer.
            return_prompts (bool): Also return what the LLM received.
            **generation_kwargs: Override ``generation_cfg``.

        Returns:
            list[list[str]]: Answers per image (and, with
            ``return_prompts``, the prompts per image as text with the
            visual tokens marked).
        """
        with timed_part(self, 'prompts', len(data_samples)):
            visual, prompts, owners = self._lm_sequences(
                state, data_samples, False)
        with timed_part(self, 'llm', len(prompts)):
            answers = self.llm.generate(visual, prompts,
                                        **generation_kwargs)
        per_image = [[] for _ in data_samples]
        texts = [[] for _ in data_samples]
        for i, a, v, p in zip(owners, answers, visual, prompts):
            per_image[i].append(a)
            if return_prompts:
                texts[i].append(self.llm.describe_prompt(p, len(v)))
        for i, s in enumerate(data_samples):
            # a question too long for the context (too_long='skip') gets
            # the empty answer, so answers stay aligned with questions
            for j in s.metainfo.get('skipped_questions', ()):
                per_image[i].insert(j, '')
                if return_prompts:
                    texts[i].insert(j, '')
        return (per_image, texts) if return_prompts else per_image
