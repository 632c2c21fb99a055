"""Save a trained LLM as a standard Hugging Face directory."""
import os.path as osp
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmmrmllm.registry import HOOKS


@HOOKS.register_module()
class HFExportHook(Hook):
    """After training, ``save_pretrained`` the model's LLM and tokenizer.

    The directory (config, safetensors weights, tokenizer files) is what
    ``LLMHead(name_or_path=...)`` and ``AutoModelForCausalLM`` load: a
    model pre-trained here enters the joint stage exactly like Vicuna.

    Args:
        out_dir (str): Relative to the work dir, or absolute.
        llm_attr (str): Attribute path of the :class:`LLMHead` on the model.
    """

    priority = 'LOWEST'

    def __init__(self, out_dir: str = 'hf_model',
                 llm_attr: str = 'llm') -> None:
        self.out_dir = out_dir
        self.llm_attr = llm_attr
        self.saved_to: Optional[str] = None

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        head = model
        for name in self.llm_attr.split('.'):
            head = getattr(head, name)
        path = osp.join(runner.work_dir, self.out_dir)
        if runner.rank == 0:
            lm = head.model
            if hasattr(lm, 'merge_and_unload'):
                lm = lm.merge_and_unload()
            lm.save_pretrained(path)
            head.tokenizer.save_pretrained(path)
            runner.logger.info(f'LLM and tokenizer saved to {path}')
        self.saved_to = path
