"""Inference from a config and a checkpoint: perceive an image once, then
answer questions (``tools/webui.py``, a notebook), or a batch of images
with the same questions (``tools/infer.py``)::

    inferencer = MRMLLMInferencer('configs/....py', 'work_dirs/.../iter.pth')
    session = inferencer.perceive('image.png')   # detector + vision once
    inferencer.ask(session, 'How many circles are there?')
    picture = inferencer.draw(session, score_thr=0.3)
    batch = inferencer.predict_batch(['a.png', 'b.png'], ['Is there a '
                                                          'square?'])
"""
import copy
import os
import os.path as osp
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from mmmrmllm.registry import MODELS, VISUALIZERS
from mmmrmllm.utils import register_all_modules
from mmmrmllm.utils.checkpoint import load_matching_checkpoint
from mmmrmllm.utils.config import check_config, for_inference, load_config
from mmmrmllm.utils.part_timer import PartTimer

from .inputs import InputError, check_questions, infer_pipeline


def format_detections(pred, classes: Sequence[str], score_thr: float,
                      ndigits: int = 3,
                      unknown_label: Callable = str) -> List[dict]:
    """``label``, ``score`` and ``bbox`` of the detections above
    ``score_thr``; a label without a class name is ``unknown_label(id)``."""
    keep = pred.scores >= score_thr
    return [
        dict(label=classes[int(label)] if int(label) < len(classes) else
             unknown_label(int(label)),
             score=round(float(score), ndigits),
             bbox=[round(float(v), 1) for v in box])
        for box, label, score in zip(pred.bboxes[keep], pred.labels[keep],
                                     pred.scores[keep])
    ]


@dataclass
class BatchPrediction:
    """Predictions for a batch of images (:meth:`predict_batch`).

    Attributes:
        questions (list[str]): Asked of every image.
        samples (list[tuple]): ``(path, predicted data sample)`` of each
            readable image, in input order.
        skipped (list[tuple[str, str]]): ``(path, reason)`` of the others.
        timer (PartTimer): Seconds, calls and images per model part.
        seconds (float): Wall time of the model's pass.
    """
    questions: List[str]
    samples: List[Tuple[str, object]]
    skipped: List[Tuple[str, str]]
    timer: PartTimer
    seconds: float = 0.0


@dataclass
class ImageSession:
    """One perceived image: what the questions about it reuse.

    Attributes:
        path (str): The image file.
        image (np.ndarray): (H, W, 3) RGB, as read.
        sample: The model's data sample (metainfo; predictions).
        state: The model's perception state (detections, shared queries,
            box tokens); the LLM reads it for every question.
        timings (dict): Seconds per model part for the perception.
    """
    path: str
    image: np.ndarray
    sample: object
    state: object
    timings: Dict[str, float] = field(default_factory=dict)


class MRMLLMInferencer:
    """A model built from a config and checkpoint: one image at a time
    (:meth:`perceive`, :meth:`ask`) or a batch (:meth:`predict_batch`).

    Args:
        config (str | Config): Config file or object.
        checkpoint (str): Checkpoint file (must match the model).
        device (str): Torch device. Defaults to 'cpu'.
        cfg_options (dict, optional): Config overrides; an unknown key is
            a ``ConfigError``. Defaults to None.
        max_pixels (int): Largest image :meth:`perceive` accepts (width x
            height). Defaults to 4096 * 4096.
        max_question_chars (int): Longest question :meth:`ask` accepts.
            Defaults to 500.
    """

    def __init__(self,
                 config,
                 checkpoint: str,
                 device: str = 'cpu',
                 cfg_options: Optional[dict] = None,
                 max_pixels: int = 4096 * 4096,
                 max_question_chars: int = 500) -> None:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
        register_all_modules(init_default_scope=False)
        cfg = config if isinstance(config, Config) else \
            load_config(config)
        if cfg_options:
            check_config(cfg, cfg_options)  # an unknown key is an error
            cfg.merge_from_dict(cfg_options)
        init_default_scope(cfg.get('default_scope', 'mmmrmllm'))
        # the checkpoint holds the weights: init-only inputs only if needed
        self.cfg = for_inference(cfg)
        self.model = MODELS.build(cfg.model)
        ckpt = load_matching_checkpoint(self.model, checkpoint)
        self.model.dataset_meta = ckpt.get('meta', {}).get(
            'dataset_meta', {}) or {}
        self.model.to(device).eval()
        self.device = device
        self.classes = list(
            self.model.dataset_meta.get('classes')
            or getattr(self.model, 'class_names', None) or [])
        self.pipeline = Compose(infer_pipeline(cfg))
        self.max_pixels = max_pixels
        self.max_question_chars = max_question_chars
        self.visualizer = VISUALIZERS.build(
            dict(cfg.visualizer, vis_backends=None,
                 name=f'webui-{id(self)}'))
        self.visualizer.dataset_meta = dict(classes=self.classes)

    @property
    def has_detector(self) -> bool:
        return self.model.detector is not None

    @property
    def has_llm(self) -> bool:
        return self.model.llm is not None

    # --------------------------------------------------------------- image
    def read_image(self, path: str) -> np.ndarray:
        """Read ``path`` as an RGB image or raise :class:`InputError`."""
        import mmcv
        if not path or not osp.isfile(path):
            raise InputError('No image: upload an image file.')
        name = osp.basename(path)
        if os.path.getsize(path) == 0:
            raise InputError(f'{name} is empty (0 bytes), not an image.')
        try:
            image = mmcv.imread(path, channel_order='rgb')
        except Exception:  # noqa: BLE001 - any decoder failure
            image = None
        if image is None or image.ndim != 3 or image.size == 0:
            raise InputError(
                f'{name} is not an image that can be read (PNG, JPEG, ...).')
        h, w = image.shape[:2]
        if h * w > self.max_pixels:
            raise InputError(
                f'{name} is {w}x{h} pixels; the limit is '
                f'{self.max_pixels} pixels. Use a smaller image.')
        return image

    def perceive(self, path: str) -> ImageSession:
        """Run the detector and the vision side once for ``path``."""
        image = self.read_image(path)
        packed = self.pipeline(
            dict(img_path=path, img_id=0, questions=[], gt_answers=[],
                 question_types=[], question_ids=[], has_det_ann=True))
        data = self.model.data_preprocessor(pseudo_collate([packed]), False)
        timer = PartTimer()
        with torch.no_grad(), timer.attach(self.model):
            state = self.model.perceive(data['inputs'], data['data_samples'])
        sample = data['data_samples'][0]
        if self.has_detector:
            sample.pred_instances = state.det_results[0]
        return ImageSession(path, image, sample, state, dict(timer.seconds))

    def detections(self, session: ImageSession,
                   score_thr: float) -> List[dict]:
        """Detections above ``score_thr`` in original-image pixels."""
        pred = session.sample.get('pred_instances', None)
        if pred is None:
            return []
        return format_detections(pred, self.classes, score_thr)

    def draw(self, session: ImageSession, score_thr: float,
             min_side: int = 0) -> np.ndarray:
        """The image with the detections above ``score_thr`` drawn.

        Args:
            min_side (int): Enlarge a smaller image (nearest neighbour) to
                this shorter side before drawing, so that small images stay
                readable on screen.
        """
        import mmcv
        image = session.image
        scale = max(1.0, min_side / min(image.shape[:2]))
        if scale > 1:
            image = mmcv.imrescale(image, scale, interpolation='nearest')
        if not self.has_detector:
            return image
        pred = session.sample.pred_instances
        sample = copy.copy(session.sample)
        sample.pred_instances = InstanceData(
            bboxes=pred.bboxes.cpu() * scale, labels=pred.labels.cpu(),
            scores=pred.scores.cpu())
        self.visualizer.add_datasample(
            'webui', image, sample, draw_gt=False, show=False,
            pred_score_thr=score_thr)
        return self.visualizer.get_image()

    # ------------------------------------------------------------ question
    def check_question(self, question) -> str:
        """The question, stripped, or :class:`InputError`."""
        if not isinstance(question, str) or not question.strip():
            raise InputError('The question is empty: type a question.')
        question = ' '.join(question.split())
        if len(question) > self.max_question_chars:
            raise InputError(
                f'The question is {len(question)} characters long; the '
                f'limit is {self.max_question_chars}.')
        return question

    def ask(self, session: ImageSession, question: str) -> dict:
        """Answer one question about a perceived image.

        Returns:
            dict: ``answer``, ``prompt`` (the text the LLM received, with
            its visual tokens marked) and ``timings`` (seconds per part).
        """
        if not self.has_llm:
            raise InputError('This model has no LLM (a detector-only '
                             'config): questions need an MLLM config.')
        question = self.check_question(question)
        sample = session.sample.clone()
        sample.questions = [question]
        sample.gt_answers = [[]]
        sample.question_types = ['']
        sample.question_ids = [0]
        timer = PartTimer()
        try:
            with torch.no_grad(), timer.attach(self.model):
                answers, prompts = self.model.answer(
                    session.state, [sample], return_prompts=True)
        except ValueError as err:  # e.g. longer than the LLM's context
            raise InputError(' '.join(str(err).split())) from err
        if sample.metainfo.get('skipped_questions'):
            # LLMHead(too_long='skip') answered '' instead of failing
            raise InputError(
                "The question does not fit the language model's context "
                f'of {self.model.llm.max_length} tokens; ask a shorter one.')
        return dict(answer=answers[0][0], prompt=prompts[0][0],
                    timings=dict(timer.seconds))

    # --------------------------------------------------------------- batch
    def _pack(self, path: str, img_id: int, questions: List[str]):
        """The test pipeline's sample of one image, or :class:`InputError`
        saying why it cannot be read."""
        if not osp.isfile(path):
            raise InputError('image not found')
        if osp.getsize(path) == 0:
            raise InputError('empty file (0 bytes)')
        try:
            return self.pipeline(
                dict(img_path=path, img_id=img_id, questions=questions,
                     gt_answers=[[] for _ in questions],
                     question_types=['' for _ in questions],
                     question_ids=list(range(len(questions))),
                     has_det_ann=not questions))
        except Exception as err:  # truncated, not an image, ...
            reason = ' '.join(str(err).split())[:200]
            raise InputError('cannot read the image: '
                             f'{type(err).__name__}: {reason}') from err

    def predict_batch(self, paths: Sequence[str],
                      questions: Sequence[str] = ()) -> BatchPrediction:
        """Detect and answer ``questions`` on every image of ``paths`` in
        one batch (perception once per image, whatever the number of
        questions); an image that cannot be read is skipped."""
        questions = list(questions)
        check_questions(questions)
        loaded, skipped = [], []
        for i, path in enumerate(paths):
            try:
                loaded.append((path, self._pack(path, i, questions)))
            except InputError as err:
                skipped.append((path, str(err)))
        batch = BatchPrediction(questions, [], skipped, PartTimer())
        if loaded:
            start = time.perf_counter()
            with torch.no_grad(), batch.timer.attach(self.model):
                outputs = self.model.test_step(
                    pseudo_collate([packed for _, packed in loaded]))
            batch.seconds = time.perf_counter() - start
            batch.samples = [(path, sample) for (path, _), sample in zip(
                loaded, outputs)]
        return batch

    def record(self, batch: BatchPrediction, path: str, sample,
               score_thr: float) -> dict:
        """One image of a batch as ``image``, ``detections`` (label,
        score, bbox; labels without a class name as ids) and ``answers``
        (question, answer)."""
        answers = list(sample.get('pred_answers', None) or [])
        return dict(
            image=path,
            detections=format_detections(sample.pred_instances, self.classes,
                                         score_thr, ndigits=4,
                                         unknown_label=int),
            answers=[dict(question=q, answer=a)
                     for q, a in zip(batch.questions, answers)])

    def save_drawing(self, path: str, sample, out_file: str,
                     score_thr: float) -> None:
        """Write the image of ``path`` with ``sample``'s detections above
        ``score_thr`` drawn to ``out_file``."""
        import mmcv
        image = mmcv.imread(path, channel_order='rgb')
        self.visualizer.add_datasample(
            osp.basename(path), image, sample, draw_gt=False,
            pred_score_thr=score_thr, out_file=out_file)
