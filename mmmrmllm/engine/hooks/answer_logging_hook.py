from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmengine.visualization import Visualizer

from mmmrmllm.registry import HOOKS
from mmmrmllm.visualization.answer_text import format_answers

__all__ = ['AnswerLoggingHook', 'format_answers']


@HOOKS.register_module()
class AnswerLoggingHook(Hook):
    """Log sample questions with predicted and true answers.

    Every ``interval`` validation/test iterations the first sample of the
    batch that has questions is written to the log and, when the visualizer
    has a ``TensorboardVisBackend``, to TensorBoard's text tab.

    Args:
        interval (int): Log every ``interval`` iterations. Defaults to 50.
        max_questions (int): Questions per logged sample. Defaults to 5.
    """
    priority = 'LOW'

    def __init__(self, interval: int = 50, max_questions: int = 5) -> None:
        self.interval = interval
        self.max_questions = max_questions

    def _log(self, runner, batch_idx: int, outputs: Sequence,
             tag: str) -> None:
        if batch_idx % self.interval:
            return
        for sample in outputs:
            lines = format_answers(sample)[:self.max_questions]
            if not lines:
                continue
            name = sample.metainfo.get('img_path', '')
            runner.logger.info(f'[{tag}] {name}\n  ' + '\n  '.join(lines))
            self._to_tensorboard(f'{tag}/answers', name, lines,
                                 runner.iter + batch_idx)
            return

    @staticmethod
    def _to_tensorboard(tag: str, name: str, lines: list, step: int):
        visualizer: Optional[Visualizer] = Visualizer.get_current_instance()
        if visualizer is None:
            return
        backend = visualizer._vis_backends.get('TensorboardVisBackend')
        if backend is None:
            return
        text = f'**{name}**\n\n' + '\n\n'.join(lines)
        backend.experiment.add_text(tag, text, step)

    def after_val_iter(self, runner, batch_idx, data_batch=None,
                       outputs=None) -> None:
        self._log(runner, batch_idx, outputs, 'val')

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        self._log(runner, batch_idx, outputs, 'test')
