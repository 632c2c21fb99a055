"""A dataset whose classes do not fit the model is refused before a run."""
import pytest
import torch
from tiny_models import CLASSES, make_tokenizer, mrmllm_cfg

from mmmrmllm.engine.hooks import ClassCheckHook, check_classes
from mmmrmllm.registry import MODELS

VOC = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
       'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person',
       'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    tok = make_tokenizer(str(tmp_path_factory.mktemp('tok')))
    torch.manual_seed(0)
    return MODELS.build(mrmllm_cfg('faster_rcnn', tok))


def test_matching_classes_pass(model):
    check_classes(model, CLASSES, 'val')
    check_classes(model, None, 'vqa only')  # no classes: nothing to check


def test_count_mismatch_names_the_head(model):
    model.class_names = None  # only the heads num_classes left
    try:
        with pytest.raises(ValueError,
                           match=r'test_dataloader.* has 20 classes.*'
                           r'roi_head.bbox_head .*num_classes=3'):
            check_classes(model, VOC, 'test_dataloader.dataset (VOC)')
    finally:
        model.class_names = list(CLASSES)


def test_order_mismatch_names_both(model):
    with pytest.raises(ValueError, match=r"classes \['square', 'circle', "
                       r"'triangle'\] but the model was built for"):
        check_classes(model, ('square', 'circle', 'triangle'), 'val')


def test_hook_checks_each_loop(model):

    class Loader:

        def __init__(self, classes):
            self.dataset = type('VOCLike', (), {})()
            self.dataset.metainfo = dict(classes=classes)

    class Runner:
        pass

    hook = ClassCheckHook()
    for stage in ('train', 'val', 'test'):
        runner = Runner()
        runner.model = model
        for other in ('train', 'val', 'test'):  # the other loops match
            setattr(runner, f'{other}_dataloader', Loader(CLASSES))
        setattr(runner, f'{stage}_dataloader', Loader(VOC))
        for other in ('train', 'val', 'test'):
            check = getattr(hook, f'before_{other}')
            if other != stage:
                check(runner)
                continue
            with pytest.raises(ValueError,
                               match=rf'^{stage}_dataloader\.dataset '
                               r'\(VOCLike\) has classes'):
                check(runner)
    runner.train_dataloader = None  # a loop without a loader: nothing
    hook.before_train(runner)
