"""MRMLLM: the joint model of MR-MLLM (arXiv 2406.15768).

This module wires the parts and runs the loss / predict flow. The
perception forward is in :mod:`.perception_pass`, the LLM's sequences in
:mod:`.sequence_assembly`, checkpoints of frozen parts in
:mod:`.frozen_state` and detector-config helpers in :mod:`.wiring`.
"""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.model import BaseModel
from torch import Tensor, nn

from mmmrmllm.registry import MODELS
from mmmrmllm.structures import (
    MRMLLMDataSample,
)
from mmmrmllm.utils.part_timer import timed_part

from .detectors import build_detector_adapter
from .frozen_state import FrozenStateMixin
from .instruction import instructed_visual, instruction_texts
from .mllm_directory import (
    MLLM_PARTS,  # noqa: F401 (its old home)
    MLLMDirectory,
    resolve_instruction,
)
from .perception import PerceptionPromptGenerator
from .perception_pass import Detections, PerceptionPassMixin, PerceptionState
from .pretraining.region_text import grounded_regions
from .sequence_assembly import assemble_sequences, per_image
from .soft_answer import soft_answer_loss
from .wiring import (
    build_detector,
    check_samples,
    check_variant,
    detector_config,
    feedback_config,
    fusion_config,
    gt_schedule,
    load_detector_checkpoint,
    neck_widths,
    preprocessor_cfg,
    scaled_losses,
)

__all__ = ['MRMLLM', 'Detections', 'PerceptionState']


@MODELS.register_module()
class MRMLLM(PerceptionPassMixin, FrozenStateMixin, BaseModel):
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
            ``self.pretrained_report``. It also makes the model read its
            input as InstructBLIP does, unless set otherwise: the LLM's
            ``token_layout`` becomes ``'visual_first'`` (visual tokens,
            then BOS + the prompt text) and the instruction switches below
            default to InstructBLIP's (docs/model.md, "InstructBLIP
            layout").
        lazy_init_weights (bool): Inference from a checkpoint: do not
            load the initialisation-only weights (``detector_checkpoint``,
            ``pretrained_mllm``'s weights) at build time; load each only
            if a checkpoint loaded later lacks keys it provides (frozen
            parts are kept out of checkpoints), and then fail naming it if
            it is missing. ``pretrained_mllm``'s config and tokenizers are
            still read. Set by the inference tools
            (:func:`mmmrmllm.utils.config.for_inference`). Defaults to
            False.
        drop_mask_branch (bool): Build an instance-segmentation detector
            (Mask R-CNN, Cascade Mask R-CNN, HTC, ...) without its mask
            branch, to train it on box-only data (logged). Without it, such
            a detector needs ``gt_instances.masks`` in every annotated
            sample (``LoadAnnotations(with_mask=True)``). Defaults to False.
        use_instruction_in_fusion (bool, optional): InstructBLIP's
            instruction-aware queries: each sequence's instruction tokens
            join the fusion's self-attention, so the LLM's soft tokens are
            computed per (image, question) (a second fusion pass; the
            feedback keeps the instruction-free queries). None (default):
            on with an InstructBLIP ``pretrained_mllm`` (off with a BLIP-2
            one, whose Q-Former reads no text), off otherwise.
        instruction_tokenizer (str, optional): A local HF tokenizer
            directory for the instructions. None: with ``pretrained_mllm``
            its ``qformer_tokenizer/`` subfolder (InstructBLIP's BERT
            tokenizer) if present, else (and without ``pretrained_mllm``)
            the LLM's tokenizer. Its vocabulary must fit
            ``fusion.vocab_size``.
        instruction_text (str, optional): What the fusion reads:
            ``'prompt'``, the whole prompt text the LLM reads (template,
            perception text and question, ``<image>`` removed; what
            ``InstructBlipProcessor`` gives the Q-Former),
            ``'template'``, the prompt without its perception text (the
            template filled with the question: what the processor gives
            the Q-Former of an MLLM pre-trained without a detector) or
            ``'question'``, the bare question. None: ``'prompt'`` with
            ``pretrained_mllm``, ``'question'`` otherwise.
        soft_answer_weight (float): Weight of
            :func:`~mmmrmllm.models.soft_answer.soft_answer_loss`
            (``lm.loss_soft_answer``), an auxiliary loss of vision-language
            pre-training: the LLM's output head must read each answer's
            first token from the soft tokens. Defaults to 0 (off).
        region_text_weight (float): Weight of the region-text contrastive
            loss (``vl.loss_region_text``) of vision-language
            pre-training: the vision tower's patch tokens pooled in each
            object's box must pick the object's phrase among the batch's
            (:class:`~mmmrmllm.models.pretraining.RegionTextContrastive`),
            on samples whose metainfo carries ``regions`` (grounded
            phrases, e.g. ``CornerShapesImageTextStream(with_regions=
            True)``). Defaults to 0 (off; the module is not built).
        region_text (dict, optional): Overrides of the
            ``RegionTextContrastive`` config (``vision_dims`` and
            ``text_dims`` are filled in). Its parameters serve only this
            loss: they are not part of an exported InstructBLIP
            directory. The phrases are embedded by the LLM's input
            embeddings (mean over tokens, no gradient into the LLM).
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
                 use_instruction_in_fusion: Optional[bool] = None,
                 instruction_tokenizer: Optional[str] = None,
                 instruction_text: Optional[str] = None,
                 soft_answer_weight: float = 0.0,
                 region_text_weight: float = 0.0,
                 region_text: Optional[dict] = None,
                 lazy_init_weights: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        check_variant(variant, detector, vision_encoder, fusion, llm,
                      detection_source, pretrained_mllm)
        det_cfg = None if detector is None or variant == 'mllm_only' \
            else detector_config(detector, drop_mask_branch)
        joint = variant == 'joint'
        self.variant = variant
        self.use_det_feats_in_fusion = joint and use_det_feats_in_fusion
        self.use_feedback = joint and use_feedback
        self.use_box_tokens = joint and use_box_tokens
        self.use_perception_prompt = joint and use_perception_prompt
        self.detach_perception = detach_perception
        self.detection_source = detection_source
        self.gt_schedule = gt_schedule(detection_source, gt_perception,
                                       gt_noise)
        self.lambda_det, self.lambda_lm, self.soft_answer_weight = \
            lambda_det, lambda_lm, soft_answer_weight
        self.class_names = list(class_names) if class_names else None
        super().__init__(
            data_preprocessor=MODELS.build(
                preprocessor_cfg(data_preprocessor, det_cfg, variant)),
            init_cfg=init_cfg)
        # where each part's weights came from; init-only ones not loaded
        self._sources, self._deferred, self.lazy_init_weights = \
            {}, [], lazy_init_weights
        self.detector = self.det_adapter = None
        if det_cfg is not None:
            self._build_detector(det_cfg, detector_checkpoint)
        self.neck_channels, neck_ch = neck_widths(
            self.detector, det_cfg, fusion, feedback,
            self.use_det_feats_in_fusion, self.use_feedback)
        self.vision_encoder = self.fusion = self.llm = self.feedback = \
            self.language_projection = self.perception_encoder = \
            self.prompt_generator = self.pretrained_report = None
        mllm_dir = MLLMDirectory.of(pretrained_mllm)
        settings = resolve_instruction(mllm_dir, use_instruction_in_fusion,
                                       instruction_tokenizer, instruction_text)
        if variant != 'detector_only':
            self._build_mllm(vision_encoder, fusion, llm, generation_cfg,
                             neck_ch, mllm_dir)
        self._build_couplings(feedback, perception_encoder, prompt_generator,
                              box_token_targets, neck_ch)
        self._build_region_text(region_text_weight, region_text)
        self._label_cache: Dict[tuple, Tensor] = {}
        self.part_timer = self.load_report = None
        self._build_instruction(*settings)
        self.register_frozen_state_hooks()

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
            self._init_only(('detector', ), 'detector_checkpoint',
                            checkpoint, self._load_detector)

    def _load_detector(self, path: str) -> None:
        load_detector_checkpoint(self.detector, path)
        self._sources['detector'] = path

    def _build_mllm(self, vision_encoder, fusion, llm, generation_cfg,
                    neck_ch, mllm_dir: Optional[MLLMDirectory] = None
                    ) -> None:
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
        if generation_cfg:
            self.llm.generation_cfg.update(generation_cfg)
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
            pe.setdefault('type', 'PerceptionEncoder')
            pe.setdefault('label_dims', self.llm.hidden_size)
            pe.setdefault('out_dims',
                          {t: dims[t] for t in tuple(box_token_targets)})
            self.perception_encoder = MODELS.build(pe)
        if self.use_perception_prompt:
            pg = dict(prompt_generator or {})
            pg.setdefault('type', PerceptionPromptGenerator)
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

    # ---------------------------------------------------------- sequences
    def _lm_sequences(self, state: PerceptionState,
                      samples: Sequence[MRMLLMDataSample], training: bool):
        """Visual embeddings and encoded prompts of every (image, question)
        pair, plus the image index of each (:func:`assemble_sequences`)."""
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
