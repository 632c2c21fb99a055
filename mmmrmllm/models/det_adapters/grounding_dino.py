"""The adapter of Grounding DINO (a text-conditioned DINO)."""
from typing import Tuple

from mmdet.structures import SampleList

from .base import register_detector_adapter
from .detr import DETRAdapter
from .utils import with_decode_metas


class GroundingDINOAdapter(DETRAdapter):
    """Grounding DINO (mmdet's ``GroundingDINO``, the detector of LLMDet):
    a text-conditioned DINO. The dataset's class names become its text
    prompt (``'circle . square . triangle'``, mmdet's custom-entities
    form), so its predicted labels index the classes like any detector's.

    The prompt is the sample's ``text`` where the pipeline set one, else
    the sample's ``metainfo['classes']``, else :attr:`class_names` (set by
    the joint model from its ``class_names``).
    """

    class_names: Tuple[str, ...] = ()

    def _prompt(self, samples: SampleList) -> Tuple[str, ...]:
        first = samples[0]
        text = first.get('text', None) or first.metainfo.get('classes') \
            or self.class_names
        if not text:
            raise ValueError(
                'Grounding DINO needs class names for its text prompt: set '
                'model.class_names or the dataset metainfo classes')
        return tuple(text) if not isinstance(text, str) else text

    def _text(self, samples: SampleList):
        det = self.detector
        tokenized, caption, tokens_positive, _ = det.get_tokens_and_prompts(
            self._prompt(samples), True)
        text_dict = det.language_model([caption] * len(samples))
        if det.text_feat_map is not None:
            text_dict['embedded'] = det.text_feat_map(text_dict['embedded'])
        return tokenized, tokens_positive, text_dict

    def _with_targets(self, samples: SampleList, tokenized, tokens_positive,
                      text_dict) -> None:
        """What mmdet's ``GroundingDINO.loss`` adds to the ground truth."""
        det = self.detector
        for i, s in enumerate(samples):
            labels = s.gt_instances.labels
            _, positive_map = det.get_positive_map(
                tokenized, [tokens_positive[int(lb)] for lb in labels])
            positive_map = positive_map.to(labels.device).bool().float()
            s.gt_instances.positive_maps = positive_map
            s.gt_instances.text_token_mask = text_dict['text_token_mask'][
                i].unsqueeze(0).repeat(len(positive_map), 1)

    def _token_positive_map(self, samples: SampleList) -> dict:
        """Class index + 1 -> the prompt's token positions (tokenised once
        per prompt, not once per step)."""
        prompt = self._prompt(samples)
        cache = self.__dict__.setdefault('_positive_maps', {})
        if prompt not in cache:
            cache[prompt] = self.detector.get_tokens_positive_and_prompts(
                prompt, True)[0]
        return cache[prompt]

    def _head_inputs(self, feats, samples, with_targets: bool = False):
        tokenized, tokens_positive, text_dict = self._text(samples)
        if with_targets:
            self._with_targets(samples, tokenized, tokens_positive,
                               text_dict)
        return self.detector.forward_transformer(tuple(feats), text_dict,
                                                 samples)

    def _decode_kwargs(self, samples) -> dict:
        return dict(batch_token_positive_maps=[
            self._token_positive_map(samples)] * len(samples))

    def predict_from_feats(self, feats, samples, rescale=True):
        # the head's predict reads each sample's token_positive_map
        samples = with_decode_metas(samples)
        positive = self._token_positive_map(samples)
        for s in samples:
            s.token_positive_map = positive
        return super().predict_from_feats(feats, samples, rescale)


def _register_grounding_dino() -> None:
    from mmdet.models.detectors import GroundingDINO
    register_detector_adapter(GroundingDINO)(GroundingDINOAdapter)


_register_grounding_dino()
