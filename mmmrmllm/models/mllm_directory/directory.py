"""An InstructBLIP / BLIP-2 directory as the joint model uses it: one
object that reads its config, completes the parts' configs, loads its
weights, picks the fusion's instruction settings and writes one."""
import logging
import os.path as osp
from functools import partial
from typing import Optional, Tuple, Union

from mmengine.logging import print_log
from torch import nn

from ..instruction import INSTRUCTION_TEXTS, InstructionTokenizer
from .config import fill_from_pretrained, read_mllm_config
from .export import save_instructblip
from .weights import load_instructblip

# the parts an InstructBLIP / BLIP-2 directory provides weights for
MLLM_PARTS = ('vision_encoder', 'fusion', 'language_projection', 'llm')

__all__ = [
    'MLLM_PARTS', 'MLLMDirectory', 'resolve_instruction',
    'load_instruction_tokenizer'
]


class MLLMDirectory:
    """A local InstructBLIP / BLIP-2 ``save_pretrained`` directory.

    Its ``config.json`` is read once, on first use (:func:`read_mllm_config`,
    ``model_type`` normalised to ``'instructblip'`` / ``'blip_2'``).

    Args:
        path (str): The directory (``MRMLLM(pretrained_mllm=...)``).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._config: Optional[dict] = None

    @classmethod
    def of(cls, path: Optional[str]) -> Optional['MLLMDirectory']:
        """The directory at ``path``; None without one."""
        return None if path is None else cls(path)

    @staticmethod
    def read(path: str) -> dict:
        """The parsed ``config.json`` of ``path``
        (:func:`read_mllm_config`)."""
        return read_mllm_config(path)

    @property
    def config(self) -> dict:
        """The parsed ``config.json``."""
        if self._config is None:
            self._config = self.read(self.path)
        return self._config

    @property
    def model_type(self) -> str:
        """``'instructblip'`` or ``'blip_2'``."""
        return self.config['model_type']

    @property
    def reads_instructions(self) -> bool:
        """Whether its Q-Former reads text (InstructBLIP's does, BLIP-2's
        does not)."""
        return self.model_type != 'blip_2'

    def build_parts(self, vision_encoder: Optional[dict],
                    fusion: Optional[dict], llm: Optional[dict]
                    ) -> Tuple[Optional[dict], Optional[dict],
                               Optional[dict]]:
        """The parts' configs completed from the directory
        (:func:`fill_from_pretrained`); the LLM's ``token_layout``
        defaults to BLIP-2 / InstructBLIP's ``'visual_first'``.

        Returns:
            tuple: Vision encoder, fusion and LLM configs (copies).
        """
        vision_encoder, fusion, llm = fill_from_pretrained(
            self.path, vision_encoder, fusion, llm, self.config)
        if llm is not None and 'token_layout' not in llm:
            llm = dict(llm, token_layout='visual_first')
        return vision_encoder, fusion, llm

    def load_weights(self, model: nn.Module) -> None:
        """Load the directory into ``model``'s MLLM parts
        (:func:`load_instructblip`, report in ``model.pretrained_report``):
        now, or with ``model.lazy_init_weights`` only when a loaded
        checkpoint lacks their keys.

        Args:
            model (MRMLLM): Built from :meth:`build_parts`' configs.
        """
        if not osp.exists(self.path):
            raise FileNotFoundError(
                f'pretrained_mllm {self.path!r} not found (a local '
                'InstructBLIP / BLIP-2 save_pretrained directory)')
        model._init_only(MLLM_PARTS, 'mllm.pretrained', self.path,
                         partial(self._load_into, model))

    @staticmethod
    def _load_into(model: nn.Module, path: str) -> None:
        model.pretrained_report = load_instructblip(model, path)

    def instruction_settings(self, use: Optional[bool],
                             tokenizer: Optional[str], text: Optional[str]
                             ) -> Tuple[bool, Optional[str], str]:
        """The fusion's instruction settings with this directory
        (:func:`resolve_instruction`)."""
        return resolve_instruction(self, use, tokenizer, text)

    @staticmethod
    def instruction_tokenizer(path: Optional[str], llm: nn.Module,
                              fusion: nn.Module) -> InstructionTokenizer:
        """The fusion's instruction tokenizer
        (:func:`load_instruction_tokenizer`)."""
        return load_instruction_tokenizer(path, llm, fusion)

    @staticmethod
    def export(model: nn.Module, out_dir: str, **kwargs) -> str:
        """Write ``model``'s MLLM parts as an InstructBLIP directory
        (:func:`save_instructblip`, which takes ``kwargs``)."""
        return save_instructblip(model, out_dir, **kwargs)


def resolve_instruction(pretrained_mllm: Union[None, str, MLLMDirectory],
                        use: Optional[bool], tokenizer: Optional[str],
                        text: Optional[str]
                        ) -> Tuple[bool, Optional[str], str]:
    """The instruction settings of an MRMLLM, defaults filled in.

    Without ``pretrained_mllm``: off, the LLM's tokenizer, the bare
    question (the toolkit's own defaults). With an InstructBLIP directory:
    on, its ``qformer_tokenizer/`` subfolder (the LLM's tokenizer, logged,
    if it has none), the whole prompt text, as InstructBLIP. A BLIP-2
    directory (``model_type='blip-2'``: its Q-Former reads no text) leaves
    the instruction off. Values given explicitly are kept.

    Args:
        pretrained_mllm (str | MLLMDirectory, optional): The directory.
        use (bool, optional): ``use_instruction_in_fusion``.
        tokenizer (str, optional): ``instruction_tokenizer``.
        text (str, optional): ``instruction_text``.

    Returns:
        tuple[bool, str | None, str]: ``use_instruction_in_fusion``,
        ``instruction_tokenizer`` (None: the LLM's), ``instruction_text``.
    """
    if text is not None and text not in INSTRUCTION_TEXTS:
        raise ValueError(f'instruction_text must be one of '
                         f'{INSTRUCTION_TEXTS}, got {text!r}')
    if pretrained_mllm is None:
        return bool(use), tokenizer, text or 'question'
    if not isinstance(pretrained_mllm, MLLMDirectory):
        pretrained_mllm = MLLMDirectory(pretrained_mllm)
    path = pretrained_mllm.path
    if use is None:
        use = pretrained_mllm.reads_instructions
    if use and tokenizer is None:
        sub = osp.join(path, 'qformer_tokenizer')
        if osp.isdir(sub):
            tokenizer = sub
        else:
            print_log(
                f'pretrained_mllm {path!r} has no '
                "qformer_tokenizer/; the fusion's instructions use the "
                "LLM's tokenizer (set instruction_tokenizer to choose)",
                logger='current',
                level=logging.WARNING)
    return use, tokenizer, text or 'prompt'


def load_instruction_tokenizer(path: Optional[str], llm, fusion: nn.Module
                               ) -> InstructionTokenizer:
    """The LLM's tokenizer (``path=None``) or a local one."""
    if path is None:
        return InstructionTokenizer(llm.tokenizer, fusion,
                                    "the LLM's tokenizer")
    from transformers import AutoTokenizer
    try:
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as err:
        raise FileNotFoundError(
            f'instruction_tokenizer {path!r}: not a local tokenizer '
            f'directory ({type(err).__name__})') from err
    return InstructionTokenizer(tok, fusion, path)
