"""Save a trained MLLM as a standard Hugging Face InstructBLIP
directory."""
import os.path as osp
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmmrmllm.registry import HOOKS


@HOOKS.register_module()
class InstructBLIPExportHook(Hook):
    """After training, save the model's vision tower, Q-Former (the
    fusion), language projection, LLM and tokenizers as an InstructBLIP
    directory (:func:`mmmrmllm.models.save_instructblip`).

    It is what ``InstructBlipForConditionalGeneration.from_pretrained``
    and ``MRMLLM(pretrained_mllm=...)`` load: an MLLM pre-trained here
    enters the joint stage exactly like ``instructblip-vicuna-7b``.

    Args:
        out_dir (str): Relative to the work dir, or absolute.
        qformer_tokenizer (str, optional): Local tokenizer directory of the
            Q-Former's instructions; defaults to the model's instruction
            tokenizer, else the LLM's.
    """

    priority = 'LOWEST'

    def __init__(self, out_dir: str = 'hf_instructblip',
                 qformer_tokenizer: Optional[str] = None) -> None:
        self.out_dir = out_dir
        self.qformer_tokenizer = qformer_tokenizer
        self.saved_to: Optional[str] = None

    def after_train(self, runner) -> None:
        from mmmrmllm.models import save_instructblip
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        path = osp.join(runner.work_dir, self.out_dir)
        if runner.rank == 0:
            qtok = None
            if self.qformer_tokenizer is not None:
                from transformers import AutoTokenizer
                qtok = AutoTokenizer.from_pretrained(self.qformer_tokenizer)
            elif getattr(model, 'instruction_tokenizer', None) is not None:
                qtok = model.instruction_tokenizer.tokenizer
            pre = model.data_preprocessor.enc
            save_instructblip(
                model,
                path,
                qformer_tokenizer=qtok,
                image_mean=[float(m) / 255 for m in pre.mean.flatten()],
                image_std=[float(s) / 255 for s in pre.std.flatten()])
            runner.logger.info(f'InstructBLIP directory saved to {path}')
        self.saved_to = path
