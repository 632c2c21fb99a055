"""LanguagePretrainer: text-only training of an :class:`LLMHead`.

The first stage of the staged recipe on machines without a pretrained LLM:
the LLM learns to read perception prompts and answer questions from text
alone; :class:`HFExportHook` then saves it as a standard Hugging Face
directory that the joint model loads through ``LLMHead(name_or_path=...)``
like any pretrained LLM.
"""
from typing import Dict, List, Optional

import torch
from mmdet.structures import DetDataSample
from mmengine.model import BaseModel

from mmmrmllm.registry import MODELS

from .llm import majority_answer


@MODELS.register_module()
class LanguagePretrainer(BaseModel):
    """Train an :class:`LLMHead` on (perception, question, answer) text.

    Samples carry ``perception`` (str), ``questions``, ``gt_answers`` (and
    ``question_types`` for metrics); the prompt is the LLM's template with
    no visual tokens. ``predict`` fills ``pred_answers``.

    Args:
        llm (dict): :class:`LLMHead` config (``train_mode='full'``).
        text_loss_weight (float): Weight of ``loss_text``, next-token
            prediction over the prompt itself (perception text and
            question). Plain language modelling of the prompt teaches the
            model the prompt's structure - which count belongs to which
            class, which shape to which position - from every token instead
            of one answer token per sequence, and look-up circuits form in
            far fewer steps. 0 trains on answers only.
        data_preprocessor (dict, optional): Defaults to MMEngine's
            ``BaseDataPreprocessor`` (the inputs are empty).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 llm: dict,
                 text_loss_weight: float = 0.0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor
            or dict(type='BaseDataPreprocessor'),
            init_cfg=init_cfg)
        self.llm = MODELS.build(llm)
        self.text_loss_weight = text_loss_weight

    def _sequences(self, samples: List[DetDataSample], training: bool):
        empty = self.llm.embed_ids(
            torch.zeros(0, dtype=torch.long,
                        device=self.llm.model.device))
        prompts = []
        for i, s in enumerate(samples):
            qs = list(s.questions)
            answers = [majority_answer(a) for a in s.gt_answers] \
                if training else None
            text = s.perception
            enc, _ = self.llm.encode_image_prompts(
                qs, answers, 0, lambda drop, text=text: text,
                name=f'img_id={s.metainfo.get("img_id", i)}')
            prompts += enc
        return [empty] * len(prompts), prompts

    def forward(self,
                inputs=None,
                data_samples: Optional[List[DetDataSample]] = None,
                mode: str = 'loss'):
        if mode == 'loss':
            return self.loss(data_samples)
        if mode == 'predict':
            return self.predict(data_samples)
        raise ValueError(f'{type(self).__name__} supports modes loss and '
                         f'predict, got {mode!r}')

    def loss(self, data_samples: List[DetDataSample]) -> Dict[str, object]:
        """``loss_lm``: mean cross-entropy over answer tokens + EOS; with
        ``text_loss_weight``, ``loss_text`` over the prompt's tokens."""
        visual, prompts = self._sequences(data_samples, True)
        with_text = self.text_loss_weight > 0
        out = self.llm.loss(visual, prompts, text_loss=with_text)
        losses = dict(loss_lm=out['loss'])
        if with_text:
            losses['loss_text'] = out['loss_text'] * self.text_loss_weight
        return losses

    def predict(self, data_samples: List[DetDataSample]
                ) -> List[DetDataSample]:
        """Greedy answers in ``pred_answers``, one per question."""
        visual, prompts = self._sequences(data_samples, False)
        answers = iter(self.llm.generate(visual, prompts))
        for s in data_samples:
            s.pred_answers = [next(answers) for _ in s.questions]
        return data_samples
