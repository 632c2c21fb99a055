"""MRMLLMInferencer (behind tools/webui.py): perception once per image,
clear messages for bad input, every model of the family."""
import os

import numpy as np
import pytest
import torch
from test_webui import TINY, workspace  # noqa: F401 - shared fixture

from mmmrmllm.apis import InputError, MRMLLMInferencer


@pytest.fixture(scope='module')
def make(workspace):  # noqa: F811
    def build(mode='joint', **kwargs):
        cwd = os.getcwd()
        os.chdir(workspace)
        try:
            ckpt = workspace / f'{mode}.pth'
            if not ckpt.exists():
                from mmengine.config import Config

                from mmmrmllm.registry import MODELS
                cfg = Config.fromfile(TINY).model
                cfg.variant = mode
                torch.manual_seed(0)
                torch.save(dict(state_dict=MODELS.build(cfg).state_dict()),
                           ckpt)
            return MRMLLMInferencer(
                TINY, str(ckpt), cfg_options={'model.variant': mode}, **kwargs)
        finally:
            os.chdir(cwd)
    return build


def image(workspace, i=0):  # noqa: F811
    return str(sorted((workspace / 'data' / 'cornershapes' / 'images' /
                       'val').glob('*.png'))[i])


def test_perceive_once_then_ask(make, workspace):  # noqa: F811
    inf = make()
    calls = []
    inf.model.detector.backbone.register_forward_hook(
        lambda *a: calls.append(1))
    session = inf.perceive(image(workspace))
    assert calls == [1]
    assert {'detector.extract', 'detector.head', 'vision_encoder'} <= set(
        session.timings)
    out = [inf.ask(session, q) for q in ('How many circles are there?',
                                         'Is there a square?')]
    assert calls == [1], 'a question ran the detector again'
    for o in out:
        assert isinstance(o['answer'], str)
        assert '<' in o['prompt'] and 'visual tokens>' in o['prompt']
        assert 'llm' in o['timings'] and 'detector.head' not in o['timings']
    # the same answers as the batch path (predict, both questions at once)
    from mmengine.dataset import pseudo_collate
    qs = ['How many circles are there?', 'Is there a square?']
    packed = inf.pipeline(dict(
        img_path=image(workspace), img_id=0, questions=qs,
        gt_answers=[[], []], question_types=['', ''], question_ids=[0, 1],
        has_det_ann=True))
    data = inf.model.data_preprocessor(pseudo_collate([packed]), False)
    with torch.no_grad():
        pred = inf.model.predict(**data)[0]
    assert pred.pred_answers == [o['answer'] for o in out]
    torch.testing.assert_close(pred.pred_instances.bboxes,
                               session.sample.pred_instances.bboxes)
    drawn = inf.draw(session, 0.0, min_side=256)
    assert drawn.shape[0] >= 256 and drawn.shape[2] == 3
    dets = inf.detections(session, 0.0)
    assert all(d['label'] in ('circle', 'square', 'triangle') for d in dets)
    assert len(inf.detections(session, 1.01)) == 0


@pytest.mark.parametrize('content,message', [
    (b'', r'empty \(0 bytes\)'),
    (b'hello', 'not an image'),
    (b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR' + b'\x00' * 8, 'not an image'),
])
def test_bad_images(make, tmp_path, content, message):
    inf = make()
    path = tmp_path / 'bad.png'
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        inf.perceive(str(path))
    with pytest.raises(InputError, match='No image'):
        inf.perceive(str(tmp_path / 'missing.png'))


def test_too_large_image_and_bad_questions(make, workspace):  # noqa: F811
    inf = make(max_pixels=32 * 32, max_question_chars=40)
    with pytest.raises(InputError, match=r'64x64 pixels; the limit is 1024'):
        inf.perceive(image(workspace))
    inf.max_pixels = 10**8
    session = inf.perceive(image(workspace))
    for q, msg in (('', 'empty'), ('   \n', 'empty'), (None, 'empty'),
                   ('why ' * 20, '79 characters long; the limit is 40')):
        with pytest.raises(InputError, match=msg):
            inf.ask(session, q)
    # longer than the LLM's context: the model's own error, as a message
    inf.max_question_chars = 10**6
    with pytest.raises(InputError, match='context'):
        inf.ask(session, 'why ' * 400)


def test_detector_only_and_mllm_only(make, workspace):  # noqa: F811
    det = make('detector_only')
    session = det.perceive(image(workspace))
    assert session.sample.pred_instances.bboxes.shape[1] == 4
    with pytest.raises(InputError, match='questions need an MLLM'):
        det.ask(session, 'How many circles are there?')
    mllm = make('mllm_only')
    session = mllm.perceive(image(workspace))
    assert mllm.detections(session, 0.0) == []
    assert mllm.draw(session, 0.0).shape == session.image.shape
    assert isinstance(mllm.ask(session, 'Is there a square?')['answer'], str)
    assert np.array_equal(mllm.draw(session, 0.0), session.image)


def test_core_package_does_not_import_gradio():
    import subprocess
    import sys
    code = ('import sys, mmmrmllm, mmmrmllm.apis, mmmrmllm.models, '
            'mmmrmllm.datasets, mmmrmllm.engine, mmmrmllm.evaluation; '
            'assert "gradio" not in sys.modules and "selenium" not in '
            'sys.modules')
    res = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr[-2000:]


def test_batch_of_images_as_tools_infer_runs_it(make, workspace,  # noqa
                                                tmp_path):
    """``predict_batch``: the answers ``ask`` gives, unreadable images
    skipped with their reason, records as ``results.json`` holds them."""
    inf = make()
    qs = ['How many circles are there?', 'Is there a square?']
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    paths = [image(workspace, 0), str(empty), str(tmp_path / 'no.png'),
             image(workspace, 1)]
    batch = inf.predict_batch(paths, qs)
    assert [p for p, _ in batch.samples] == [paths[0], paths[3]]
    assert batch.skipped == [(paths[1], 'empty file (0 bytes)'),
                             (paths[2], 'image not found')]
    assert batch.timer.calls['detector.extract'] == 1
    assert batch.timer.images['detector.extract'] == 2
    session = inf.perceive(paths[0])
    record = inf.record(batch, *batch.samples[0], 0.0)
    assert record['image'] == paths[0]
    assert [a['question'] for a in record['answers']] == qs
    assert [a['answer'] for a in record['answers']] == [
        inf.ask(session, q)['answer'] for q in qs]
    assert record['detections'] and all(
        d['label'] in ('circle', 'square', 'triangle') and
        len(d['bbox']) == 4 for d in record['detections'])
    out = tmp_path / 'drawn.jpg'
    inf.save_drawing(paths[0], batch.samples[0][1], str(out), 0.3)
    assert out.stat().st_size > 0
    with pytest.raises(InputError, match='question 2 is empty'):
        inf.predict_batch(paths, ['Is there a square?', ' '])
    with pytest.raises(ValueError, match='unknown config key'):
        MRMLLMInferencer(TINY, str(workspace / 'joint.pth'),
                         cfg_options={'model.no_such_key': 1})


def test_infer_tool_builds_through_the_inferencer():
    import ast
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), 'tools', 'infer.py')
    names = {a.name for node in ast.walk(ast.parse(open(path).read()))
             if isinstance(node, ast.ImportFrom) for a in node.names}
    assert 'MRMLLMInferencer' in names
    assert not names & {'MODELS', 'load_matching_checkpoint', 'Compose',
                        'VISUALIZERS', 'load_config', 'for_inference'}
