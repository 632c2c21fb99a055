"""Refuse a run whose dataset classes do not match the model's."""
from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmmrmllm.registry import HOOKS

# heads whose num_classes is not the dataset's (class-agnostic proposals)
_AGNOSTIC = ('rpn_head', )


def check_classes(model, classes: Optional[Sequence[str]],
                  where: str) -> None:
    """Raise ``ValueError`` if ``classes`` (a dataset's) do not fit
    ``model``: a head's ``num_classes`` of another length, or the joint
    model's ``class_names`` (what its prompts and box tokens say) in
    another order or with other names.

    Args:
        model: The model (possibly wrapped).
        classes: The dataset's ``metainfo['classes']``; None is skipped.
        where (str): The dataset, for the message.
    """
    if classes is None:
        return
    if isinstance(classes, str):
        raise ValueError(f'{where}: metainfo classes must be a sequence of '
                         f'names, got the string {classes!r}')
    if is_model_wrapper(model):
        model = model.module
    names = getattr(model, 'class_names', None)
    if names and list(names) != list(classes):
        raise ValueError(
            f'{where} has classes {list(classes)} but the model was built '
            f'for class_names {list(names)}: its prompts and box tokens '
            'would name the wrong classes')
    for name, module in model.named_modules():
        num = getattr(module, 'num_classes', None)
        if not isinstance(num, int) or isinstance(num, bool) or \
                name.endswith(_AGNOSTIC):
            continue
        if num != len(classes):
            raise ValueError(
                f'{where} has {len(classes)} classes {list(classes)[:5]}'
                f'{"..." if len(classes) > 5 else ""} but {name} '
                f'({type(module).__name__}) predicts num_classes={num}: '
                "set the head's num_classes or the dataset's classes")


@HOOKS.register_module()
class ClassCheckHook(Hook):
    """Check before training, validation and testing that the dataset's
    classes match the model (mmdet's ``NumClassCheckHook`` only checks the
    count, with an ``assert``, and not for ``tools/test.py``): a 3-class
    model evaluated on a 20-class dataset would otherwise report its
    "circle" as the dataset's first class."""

    def _check(self, runner, loader_name: str) -> None:
        loader = getattr(runner, loader_name, None)
        dataset = getattr(loader, 'dataset', None)
        if dataset is None:
            return
        meta = getattr(dataset, 'metainfo', None) or {}
        check_classes(runner.model, meta.get('classes'),
                      f'{loader_name}.dataset ({type(dataset).__name__})')

    def before_train(self, runner) -> None:
        self._check(runner, 'train_dataloader')

    def before_val(self, runner) -> None:
        self._check(runner, 'val_dataloader')

    def before_test(self, runner) -> None:
        self._check(runner, 'test_dataloader')
