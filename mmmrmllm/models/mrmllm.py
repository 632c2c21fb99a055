"""MRMLLM: the joint model of MR-MLLM (arXiv 2406.15768).

The whole forward pass is here, as named steps (see the class docstring);
stateless helpers live in :mod:`.perception_pass` (detections and the
state of a pass), :mod:`.sequence_assembly` (the LLM's sequences),
:mod:`.detector_setup` / :mod:`.part_configs` (part configs) and
:mod:`.mrmllm_args` (the constructor's groups); an InstructBLIP / BLIP-2
directory in :mod:`.mllm_directory`; checkpoints of frozen parts in
:mod:`.frozen_state`. The design is explained in docs/model.md.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmmrmllm.registry import MODELS
from mmmrmllm.structures import MRMLLMDataSample, has_det_ann
from mmmrmllm.text import DetectionPromptGenerator
from mmmrmllm.utils.part_timer import timed_part

from .det_adapters import build_detector_adapter, ensure_loop_info
from .detector_setup import (
    build_detector,
    detector_config,
    load_detector_checkpoint,
    neck_widths,
)
from .frozen_state import FrozenStateMixin
from .instruction import instructed_visual, instruction_texts
from .loss_scaling import scaled_losses
from .mllm_directory import (
    MLLM_PARTS,  # noqa: F401 (its old home)
    MLLMDirectory,
    resolve_instruction,
)
from .mrmllm_args import (
    FLAT_KEYS,
    GROUP_DEFAULTS,
    accepts_flat_keywords,
    resolve_groups,
)
from .part_configs import (
    check_variant,
    feedback_config,
    fusion_config,
    gt_schedule,
    preprocessor_cfg,
)
from .perception_pass import (
    Detections,
    PerceptionState,
    class_names_of,
    gt_detections,
    normalise_detections,
    select_feats,
)
from .pretraining.region_text import grounded_regions
from .sample_checks import check_samples
from .sequence_assembly import assemble_sequences, per_image
from .soft_answer import soft_answer_loss

__all__ = ['MRMLLM', 'Detections', 'PerceptionState']


@MODELS.register_module()
class MRMLLM(FrozenStateMixin, BaseModel):
    """MR-MLLM: a detector and a multimodal LLM that reinforce each other.

    The forward pass as named steps (1-6 in :meth:`_perceive`, 7 in
    :meth:`_lm_sequences`)::

        inputs['det']                       inputs['enc']
              |                                   |
        1 extract_det_feats                 vision_encoder
              | feats                             | visual tokens
              +------------> 2 fuse <-------------+  (+ box tokens*)
              |                 | shared queries
        3 feed_back <-----------+
              | fed-back feats  |
        4 _det_pass (the head, once): det losses / results
              |                 |
        5 _detections (+ GT schedule)
        6 _box_tokens           |
              |                 v
        7 _lm_sequences: projected queries + box tokens + prompt
              |
          LLM: lm.loss_lm (loss) / answers (predict)

    ``*`` box tokens into the fusion need detections before it
    (:meth:`_detections_first`: with feedback, a no-grad pre-pass of the
    head). Losses: ``det.*`` (weighted by ``losses.det_weight``, samples
    with ``has_det_ann``), ``lm.loss_lm`` (``lm_weight``), optional
    ``lm.loss_soft_answer`` and ``vl.loss_region_text``; a batch with
    none returns ``loss_empty``, a zero tied to every trainable parameter.
    Design and switches in detail: docs/model.md.

    Args:
        detector (dict, optional): A plain mmdet detector config. None
            only with ``variant='mllm_only'``. Defaults to None.
        vision_encoder (dict, optional): e.g. :class:`HFVisionEncoder`.
            Defaults to None.
        fusion (dict, optional): :class:`SharedQueryFusion` config;
            ``vision_dims`` / ``det_feat_dims`` are filled in. Defaults
            to None.
        feedback (dict, optional): :class:`PerceptionFeedback` config.
            Defaults to None.
        perception_encoder (dict, optional): The box-token encoder's config
            (:class:`BoxTokenEncoder`); ``label_dims`` / ``out_dims`` are
            filled in. Defaults to None.
        prompt_generator (dict, optional):
            :class:`DetectionPromptGenerator` config. Defaults to None.
        llm (dict, optional): :class:`LLMHead` config. Defaults to None.
        data_preprocessor (dict, optional):
            :class:`MRMLLMDataPreprocessor` config; ``det`` defaults to the
            detector's own. Defaults to None.
        variant (str): ``'joint'``, ``'detector_only'`` or ``'mllm_only'``.
            Defaults to ``'joint'``.
        couplings (dict, optional): The switches of the mechanisms:
            ``det_feats_in_fusion=True``, ``feedback=True``,
            ``box_tokens=True``, ``box_token_targets=('llm', )`` (and/or
            ``'fusion'``), ``perception_prompt=True``,
            ``detach_det_feats=False``. Defaults to None (all defaults).
        detections (dict, optional): What the box tokens and the prompt
            read: ``source='pred'`` (or ``'gt'``: jittered ground truth by
            ``gt_noise=0.05``), ``gt_schedule=None``
            (:class:`GTPerceptionSchedule` kwargs), ``class_names=None``
            (default: the samples' ``metainfo['classes']``). Defaults to
            None.
        mllm (dict, optional): A local InstructBLIP / BLIP-2 directory and
            how its Q-Former reads instructions: ``pretrained=None``,
            ``instruction_in_fusion=None``, ``instruction_tokenizer=None``,
            ``instruction_text=None`` (None: InstructBLIP's defaults with
            ``pretrained``, off otherwise). Defaults to None.
        losses (dict, optional): ``det_weight=1.0``, ``lm_weight=1.0``,
            ``soft_answer_weight=0.0``, ``region_text_weight=0.0`` and
            ``region_text=None`` (:class:`RegionTextContrastive`
            overrides). Defaults to None.
        init (dict, optional): ``detector_checkpoint=None``,
            ``drop_mask_branch=False`` (an instance-segmentation detector
            without its mask branch), ``lazy_load=False`` (load the init-only
            weights only for keys a later checkpoint lacks; set by the
            inference tools). Defaults to None.
        init_cfg (dict, optional): Initialisation config. Defaults to None.

    The flat keywords of the previous release (``use_feedback``,
    ``pretrained_mllm``, ``lambda_lm``, ...; :data:`FLAT_KEYS`) still work,
    with a deprecation warning naming the new key.
    """
    # the groups' keys and the previous release's flat keywords (read by
    # the config check of --cfg-options, mmmrmllm.utils.config)
    GROUP_DEFAULTS = GROUP_DEFAULTS
    DEPRECATED_KEYS = tuple(FLAT_KEYS)

    @accepts_flat_keywords
    def __init__(self,
                 detector: Optional[dict] = None,
                 vision_encoder: Optional[dict] = None,
                 fusion: Optional[dict] = None,
                 feedback: Optional[dict] = None,
                 perception_encoder: Optional[dict] = None,
                 prompt_generator: Optional[dict] = None,
                 llm: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 variant: str = 'joint',
                 couplings: Optional[dict] = None,
                 detections: Optional[dict] = None,
                 mllm: Optional[dict] = None,
                 losses: Optional[dict] = None,
                 init: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        g = resolve_groups(couplings=couplings, detections=detections,
                           mllm=mllm, losses=losses, init=init)
        cpl, dets, ml, ls, ini = (g[k] for k in GROUP_DEFAULTS)
        check_variant(variant, detector, vision_encoder, fusion, llm,
                      dets['source'], ml['pretrained'])
        det_cfg = None if detector is None or variant == 'mllm_only' \
            else detector_config(detector, ini['drop_mask_branch'])
        self._set_switches(variant, cpl, dets, ls)
        super().__init__(
            data_preprocessor=MODELS.build(
                preprocessor_cfg(data_preprocessor, det_cfg, variant)),
            init_cfg=init_cfg)
        # where each part's weights came from; init-only ones not loaded
        self._sources, self._deferred, self.lazy_init_weights = \
            {}, [], ini['lazy_load']
        self.detector = self.det_adapter = None
        if det_cfg is not None:
            self._build_detector(det_cfg, ini['detector_checkpoint'])
        self.neck_channels, neck_ch = neck_widths(
            self.detector, det_cfg, fusion, feedback,
            self.use_det_feats_in_fusion, self.use_feedback)
        self.vision_encoder = self.fusion = self.llm = self.feedback = \
            self.language_projection = self.perception_encoder = \
            self.prompt_generator = self.pretrained_report = None
        mllm_dir = MLLMDirectory.of(ml['pretrained'])
        settings = resolve_instruction(mllm_dir, ml['instruction_in_fusion'],
                                       ml['instruction_tokenizer'],
                                       ml['instruction_text'])
        if variant != 'detector_only':
            self._build_mllm(vision_encoder, fusion, llm, neck_ch, mllm_dir)
        self._build_couplings(feedback, perception_encoder, prompt_generator,
                              cpl['box_token_targets'], neck_ch)
        self._build_region_text(ls['region_text_weight'], ls['region_text'])
        self._label_cache: Dict[tuple, Tensor] = {}
        self.part_timer = self.load_report = None
        self._build_instruction(*settings)
        self.register_frozen_state_hooks()

    def _set_switches(self, variant: str, cpl: dict, dets: dict,
                      ls: dict) -> None:
        """The attributes the forward pass reads (the couplings only in
        the joint variant)."""
        joint = variant == 'joint'
        self.variant = variant
        self.use_det_feats_in_fusion = joint and cpl['det_feats_in_fusion']
        self.use_feedback = joint and cpl['feedback']
        self.use_box_tokens = joint and cpl['box_tokens']
        self.use_perception_prompt = joint and cpl['perception_prompt']
        self.detach_perception = cpl['detach_det_feats']
        self.detection_source = dets['source']
        self.gt_schedule = gt_schedule(dets['source'], dets['gt_schedule'],
                                       dets['gt_noise'])
        self.lambda_det, self.lambda_lm, self.soft_answer_weight = \
            ls['det_weight'], ls['lm_weight'], ls['soft_answer_weight']
        names = dets['class_names']
        self.class_names = list(names) if names else None

    # ----------------------------------------------------------- building
    def _build_detector(self, det_cfg: dict,
                        checkpoint: Optional[str]) -> None:
        self.detector = build_detector(det_cfg)
        self.det_adapter = build_detector_adapter(self.detector)
        if self.class_names:  # text-conditioned detectors' prompt
            self.det_adapter.class_names = tuple(self.class_names)
        # Initialise now (some mmdet parameters, e.g. DINO's level_embed,
        # are uninitialised memory until init_weights), so that a
        # checkpoint loaded next is not re-initialised later by the Runner
        # (see init_weights). Parameters built on the meta device hold no
        # data to initialise.
        if not any(p.is_meta for p in self.detector.parameters()):
            self.detector.init_weights()
        if checkpoint is not None:
            self._init_only(('detector', ), 'init.detector_checkpoint',
                            checkpoint, self._load_detector)

    def _load_detector(self, path: str) -> None:
        load_detector_checkpoint(self.detector, path)
        self._sources['detector'] = path

    def _build_mllm(self, vision_encoder, fusion, llm, neck_ch,
                    mllm_dir: Optional[MLLMDirectory] = None) -> None:
        """Vision encoder, fusion, LLM and the projection between them.

        With a pretrained directory the parts' unset sizes come from its
        config and the LLM's ``token_layout`` defaults to BLIP-2 /
        InstructBLIP's ``'visual_first'``
        (:meth:`MLLMDirectory.build_parts`); its weights are loaded
        (:meth:`MLLMDirectory.load_weights`).
        """
        if mllm_dir is not None:
            vision_encoder, fusion, llm = mllm_dir.build_parts(
                vision_encoder, fusion, llm)
        self.vision_encoder = MODELS.build(vision_encoder)
        self._sources['vision_encoder'] = getattr(self.vision_encoder,
                                                  'source', None)
        self.fusion = MODELS.build(
            fusion_config(fusion, self.vision_encoder.embed_dims,
                          self.use_det_feats_in_fusion, neck_ch))
        self.llm = MODELS.build(llm)
        self._sources['llm'] = getattr(self.llm, 'source', None)
        self.language_projection = nn.Linear(self.fusion.hidden_size,
                                             self.llm.hidden_size)
        if mllm_dir is not None:
            mllm_dir.load_weights(self)

    def _build_couplings(self, feedback, perception_encoder,
                         prompt_generator, box_token_targets,
                         neck_ch) -> None:
        """Feedback, box-token encoder and prompt generator (each only
        when its switch is on)."""
        if self.use_feedback:
            self.feedback = MODELS.build(
                feedback_config(feedback, neck_ch, self.neck_channels,
                                self.fusion.hidden_size))
        if self.use_box_tokens:
            dims = dict(fusion=self.fusion.memory_dims,
                        llm=self.llm.hidden_size)
            pe = dict(perception_encoder or {})
            pe.setdefault('type', 'BoxTokenEncoder')
            pe.setdefault('label_dims', self.llm.hidden_size)
            pe.setdefault('out_dims',
                          {t: dims[t] for t in tuple(box_token_targets)})
            self.perception_encoder = MODELS.build(pe)
        if self.use_perception_prompt:
            pg = dict(prompt_generator or {})
            pg.setdefault('type', DetectionPromptGenerator)
            self.prompt_generator = MODELS.build(pg)

    def _build_instruction(self, use_instruction: bool, path: Optional[str],
                           text: str) -> None:
        """The fusion's instruction tokenizer and text, as
        :func:`resolve_instruction` settled them."""
        self.instruction_text = text
        self.instruction_tokenizer = MLLMDirectory.instruction_tokenizer(
            path, self.llm, self.fusion) \
            if use_instruction and self.fusion is not None else None

    def _build_region_text(self, weight: float,
                           cfg: Optional[dict]) -> None:
        self.region_text_weight, self.region_text = weight, None
        if weight:
            self.region_text = self._region_text_module(cfg)

    def _region_text_module(self, cfg: Optional[dict]) -> nn.Module:
        if self.vision_encoder is None or self.llm is None:
            raise ValueError('region_text_weight needs the MLLM parts '
                             f'(variant {self.variant!r} has none)')
        cfg = dict(cfg or {})
        cfg.setdefault('type', 'RegionTextContrastive')
        cfg.setdefault('vision_dims', self.vision_encoder.embed_dims)
        cfg.setdefault('text_dims', self.llm.hidden_size)
        return MODELS.build(cfg)

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

    # ------------------------------------------------- the forward's steps
    def _perceive(self, inputs: dict, samples: Sequence, training: bool,
                  outputs: bool = True,
                  rescale: bool = True) -> PerceptionState:
        """Everything before the LLM, as in the class docstring's diagram.

        Args:
            training (bool): Loss forward (detection losses, ground-truth
                schedule) or inference.
            outputs (bool): Run the head for the predictions even if
                nothing else needs them (False for ``mode='tensor'``).
            rescale (bool): Predictions in original-image pixels.
        """
        n = len(samples)
        feats = self.extract_det_feats(inputs, n)
        if self.variant == 'detector_only':
            losses, results = {}, None
            if training or outputs:
                losses, results = self._det_pass(
                    feats, samples, training, not training, rescale)
            return PerceptionState(feats, feats, results, None, None, None,
                                   losses)
        need_dets = self.use_box_tokens or self.use_perception_prompt
        with timed_part(self, 'vision_encoder', n):
            vis = self.vision_encoder(inputs['enc'])
        losses, results, detections, box_out = {}, None, None, {}
        head_done = False
        if self.use_box_tokens and \
                'fusion' in self.perception_encoder.targets:
            losses, results, detections, head_done = self._detections_first(
                feats, samples, training, rescale)
            box_out = self._box_tokens(detections, samples)
        queries, fusion_inputs = self.fuse(vis, feats, box_out.get('fusion'),
                                           inputs, samples)
        feats_fb = self.feed_back(feats, queries, n)
        if feats is not None and not head_done and (
                training or outputs or need_dets):
            want = (need_dets and detections is None) or not training
            losses, results = self._det_pass(feats_fb, samples, training,
                                             want, rescale)
            if need_dets and detections is None:
                detections = self._detections(results, samples, training,
                                              rescale or training)
        llm_tokens = None
        if self.use_box_tokens:
            if not box_out:
                box_out = self._box_tokens(detections, samples)
            if 'llm' in box_out:
                llm_tokens = self.perception_encoder.split(*box_out['llm'])
        return PerceptionState(
            feats, feats_fb, results, detections, queries, llm_tokens,
            losses, fusion_inputs if self.instruction_tokenizer else None,
            vis)

    def extract_det_feats(self, inputs: dict,
                          n: int) -> Optional[Tuple[Tensor, ...]]:
        """Step 1: the detector's backbone + neck, once (None without a
        detector)."""
        if self.detector is None:
            return None
        with timed_part(self, 'detector.extract', n):
            return tuple(self.det_adapter.extract(inputs['det']))

    def fuse(self, vis, feats, box_tokens, inputs: dict, samples: Sequence):
        """Step 2: the shared queries (B, Nq, C) from the vision tokens,
        the detector features (Eq. 1) and the box tokens for the fusion
        (``(tokens, mask)`` or None).

        Returns:
            tuple[Tensor, dict]: The queries and the fusion's arguments.
        """
        tokens, mask = box_tokens if box_tokens is not None else (None,
                                                                  None)
        fusion_inputs = dict(
            visual_tokens=vis.tokens,
            num_prefix_tokens=vis.num_prefix,
            grid=vis.grid,
            perception_tokens=tokens,
            perception_mask=mask,
            **self._fusion_feats(inputs, feats, samples))
        with timed_part(self, 'fusion', len(samples)):
            return self.fusion(**fusion_inputs), fusion_inputs

    def _fusion_feats(self, inputs: dict, feats, samples) -> dict:
        """The detector features' arguments of the fusion (Eq. 1)."""
        if not self.use_det_feats_in_fusion:
            return {}
        if self.detach_perception:
            feats = tuple(f.detach() for f in feats)
        return dict(
            perception_feats=feats,
            valid_hw=[tuple(s.metainfo['img_shape'][:2]) for s in samples],
            pad_hw=tuple(inputs['det'].shape[-2:]))

    def feed_back(self, feats, queries: Tensor, n: int):
        """Step 3: the shared queries back into the detector features
        (unchanged without feedback)."""
        if not self.use_feedback:
            return feats
        with timed_part(self, 'feedback', n):
            return self.feedback(feats, queries)

    def _det_pass(self, feats: Sequence[Tensor], samples: Sequence,
                  training: bool, want_results: bool, rescale: bool = True):
        """Step 4: the detector head's one pass over (fed-back) features.

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
        losses, results = {}, [None] * len(samples)
        if idx:
            sub = [samples[i] for i in idx]
            sub_feats = select_feats(feats, idx, len(samples))
            with timed_part(self, 'detector.head', len(idx)):
                if want_results:
                    losses, res = self.det_adapter.\
                        loss_and_predict_from_feats(sub_feats, sub,
                                                    rescale=rescale)
                    for i, r in zip(idx, res):
                        results[i] = r
                else:
                    losses = self.det_adapter.loss_from_feats(sub_feats, sub)
        if want_results and rest:
            res = self._detect(select_feats(feats, rest, len(samples)),
                               [samples[i] for i in rest], rescale)
            for i, r in zip(rest, res):
                results[i] = r
        return losses, results if want_results else None

    @torch.no_grad()
    def _detect(self, feats: Sequence[Tensor], samples: Sequence,
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

    def _detections_first(self, feats, samples, training, rescale):
        """Step 4 moved before step 2 (box tokens into the fusion).

        With feedback, a no-grad pre-pass over the features before feedback
        (the head's single pass comes later); without, the single pass
        itself goes first (nothing changes the features).

        Returns:
            tuple: losses, results, detections, whether the head's pass
            is done.
        """
        if self.use_feedback:
            pre = self._detect(feats, samples)
            return {}, None, self._detections(pre, samples, training,
                                              True), False
        losses, results = self._det_pass(feats, samples, training, True,
                                         rescale)
        return losses, results, self._detections(
            results, samples, training, rescale or training), True

    def _detections(self, results: List[InstanceData], samples: Sequence,
                    training: bool, rescaled: bool) -> List[Detections]:
        """Step 5: normalised detections for box tokens and the prompt
        (with the scheduled ground truth in training)."""
        detections = normalise_detections(results, samples, rescaled)
        if training and self.gt_schedule is not None:
            detections = gt_detections(samples, detections, self.gt_schedule,
                                       len(self._classes(samples)))
        return detections

    def _box_tokens(self, detections: List[Detections],
                    samples: Sequence) -> dict:
        """Step 6: the detections as box tokens, per target."""
        names = self._classes(samples)
        with timed_part(self, 'perception_encoder', len(samples)):
            return self.perception_encoder(
                [d.boxes for d in detections], [d.labels for d in detections],
                [d.scores for d in detections], self._label_embeds(names))

    def _classes(self, samples: Sequence) -> List[str]:
        return class_names_of(self.class_names, samples,
                              getattr(self, 'dataset_meta', None))

    def _label_embeds(self, names: Sequence[str]) -> Tensor:
        key = tuple(names)
        if self.llm.frozen and key in self._label_cache:
            return self._label_cache[key]
        emb = self.llm.embed_texts(names)
        if self.llm.frozen:
            self._label_cache = {key: emb}
        return emb

    # ---------------------------------------------------------- sequences
    def _lm_sequences(self, state: PerceptionState,
                      samples: Sequence[MRMLLMDataSample], training: bool):
        """Step 7: visual embeddings and encoded prompts of every (image,
        question) pair, plus the image index of each
        (:func:`assemble_sequences`)."""
        soft = self.language_projection(state.queries)
        names = self._classes(samples) if self.use_perception_prompt \
            else None
        visual, prompts, owners = assemble_sequences(
            soft, samples, self.llm, training,
            box_tokens=state.llm_box_tokens,
            detections=state.detections,
            prompt_generator=self.prompt_generator
            if self.use_perception_prompt else None,
            class_names=names)
        if self.instruction_tokenizer is not None and owners:
            with timed_part(self, 'fusion', len(owners)):
                visual = instructed_visual(
                    self.instruction_tokenizer, self.fusion,
                    self.language_projection, state.fusion_inputs,
                    instruction_texts(self.instruction_text, prompts,
                                      samples, self.llm.prompt_template),
                    visual, owners)
        return visual, prompts, owners

    # ---------------------------------------------------------- BaseModel
    def forward(self,
                inputs: dict,
                data_samples: Optional[List[MRMLLMDataSample]] = None,
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

    def loss(self, inputs: dict,
             data_samples: List[MRMLLMDataSample]) -> Dict[str, Tensor]:
        """Joint losses.

        Args:
            inputs (dict): ``det`` (B, 3, Hp, Wp), ``enc`` (B, 3, h, w).
            data_samples (list[MRMLLMDataSample]): See docs/contracts.md.

        Returns:
            dict[str, Tensor]: ``det.*`` and ``lm.loss_lm``, or only
            ``loss_empty`` when no sample carries a usable target.
        """
        check_samples(data_samples, self.detector)
        state = self._perceive(inputs, data_samples, True)
        losses = scaled_losses(state.det_losses, 'det', self.lambda_det)
        if self.llm is not None:
            with timed_part(self, 'prompts', len(data_samples)):
                visual, prompts, _ = self._lm_sequences(
                    state, data_samples, True)
            # called even without questions: distributed, it sums the
            # answer-token count over ranks (every rank must take part);
            # skipped by all while its weight is 0 (LossWeightHook)
            with timed_part(self, 'llm', len(prompts)):
                lm = self.llm.loss(visual, prompts) if self.lambda_lm \
                    else {}
            if 'loss' in lm:
                losses['lm.loss_lm'] = lm['loss'] * self.lambda_lm
            if self.soft_answer_weight and prompts:
                losses['lm.loss_soft_answer'] = self.soft_answer_weight * \
                    soft_answer_loss(self.llm, visual, prompts,
                                     self.fusion.num_queries)
        if self.region_text is not None:
            loss = self._region_text_loss(state, inputs, data_samples)
            if loss is not None:
                losses['vl.loss_region_text'] = \
                    self.region_text_weight * loss
        if not losses:
            losses['loss_empty'] = sum(
                p.sum() * 0 for p in self.parameters() if p.requires_grad)
        return losses

    def _region_text_loss(self, state: PerceptionState, inputs: dict,
                          samples: Sequence[MRMLLMDataSample]):
        """The region-text loss over the batch's grounded phrases (None
        when no sample carries ``regions``)."""
        vis = state.visual
        found = grounded_regions(vis.tokens, vis.num_prefix, vis.grid,
                                 inputs['enc'].shape[-2:], samples)
        if found is None:
            return None
        regions, ids, distinct = found
        with torch.no_grad():
            phrases = self.llm.embed_texts(distinct)
        return self.region_text(regions, ids, phrases)

    def predict(self,
                inputs: dict,
                data_samples: List[MRMLLMDataSample],
                rescale: bool = True,
                **generation_kwargs) -> List[MRMLLMDataSample]:
        """Detect and answer.

        Args:
            inputs (dict): ``det`` (B, 3, Hp, Wp), ``enc`` (B, 3, h, w).
            data_samples (list[MRMLLMDataSample]): Metainfo and questions.
            rescale (bool): Boxes in original-image pixels.
            **generation_kwargs: Override ``generation_cfg``.

        Returns:
            list[MRMLLMDataSample]: With ``pred_instances`` (if a detector)
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

    def perceive(self, inputs: dict, data_samples: List[MRMLLMDataSample],
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
               data_samples: List[MRMLLMDataSample],
               return_prompts: bool = False, **generation_kwargs):
        """Answer the samples' ``questions`` from a :meth:`perceive` state
        of the same batch.

        Args:
            state (PerceptionState): From :meth:`perceive`.
            data_samples (list[MRMLLMDataSample]): The same images, with the
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
        answers_per_image = per_image(owners, answers, data_samples)
        if not return_prompts:
            return answers_per_image
        texts = [self.llm.describe_prompt(p, len(v))
                 for v, p in zip(visual, prompts)]
        return answers_per_image, per_image(owners, texts, data_samples)
