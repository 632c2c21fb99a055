"""Bad input met by the command-line tools, as a user meets it (issue 11).

Each case ends in one ``error: ...`` line naming what to fix, or in a
reported skip while the rest of the run finishes. The tools run as
subprocesses on the tiny CLI config and a 64-px CornerShapes set; the
checkpoint is the tiny model as built (no training needed to test input
handling).
"""
import json
import os
import os.path as osp
import pickle
import shutil
import subprocess
import sys

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(ROOT, 'tools')
TRAIN = osp.join(TOOLS, 'train.py')
TEST = osp.join(TOOLS, 'test.py')
INFER = osp.join(TOOLS, 'infer.py')
TINY = osp.join(ROOT, 'tests', 'data', 'configs', 'mrmllm_tiny_cli.py')


def run(args, cwd, timeout=300):
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    return subprocess.run([sys.executable, *args], cwd=str(cwd), env=env,
                          capture_output=True, timeout=timeout)


def text(res):
    return (res.stdout.decode('utf-8', 'replace'),
            res.stderr.decode('utf-8', 'replace'))


def one_error_line(res, *needles):
    """The run failed with exactly one ``error:`` line and no traceback."""
    out, err = text(res)
    info = f'rc={res.returncode}\nstdout: {out[-2000:]}\nstderr: ' \
        f'{err[-3000:]}'
    assert res.returncode != 0, info
    assert 'Traceback' not in err, info
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert lines and lines[-1].startswith('error: '), info
    assert sum(ln.startswith('error: ') for ln in lines) == 1, info
    for needle in needles:
        assert needle in lines[-1], (needle, lines[-1])
    return lines[-1]


class Evil:
    """Unpickling this creates the file ``path`` (code execution)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


@pytest.fixture(scope='module')
def ws(tmp_path_factory):
    """A folder with 64-px CornerShapes data and the tiny model's
    checkpoint (``tiny.pth``)."""
    from mmengine.config import Config

    from mmmrmllm.datasets.cornershapes import generate_cornershapes
    from mmmrmllm.registry import MODELS
    root = tmp_path_factory.mktemp('robust')
    generate_cornershapes(
        str(root / 'data' / 'cornershapes'),
        sizes=dict(det_train=8, vqa_train=8, val=4, corner=4, novel=0),
        img_size=64)
    old = os.getcwd()
    os.chdir(root)  # the config's data_root is relative
    try:
        cfg = Config.fromfile(TINY)
        model = MODELS.build(cfg.model)
    finally:
        os.chdir(old)
    classes = list(cfg.model.detections.class_names)
    torch.save(dict(meta=dict(dataset_meta=dict(classes=classes)),
                    state_dict=model.state_dict()), root / 'tiny.pth')
    return root


# ------------------------------------------------------------ checkpoints
def test_resume_from_a_file_without_training_state(ws):
    path = ws / 'weights_only.pth'
    torch.save(torch.load(ws / 'tiny.pth')['state_dict'], path)
    res = run([TRAIN, TINY, '--work-dir', str(ws / 'r1'), '--resume',
               str(path)], ws)
    one_error_line(res, 'weights_only.pth', 'not an MMEngine training '
                   'checkpoint', 'load_from')


@pytest.mark.parametrize('entry', ['resume', 'load_from',
                                   'detector_checkpoint', 'test'])
def test_a_malicious_pickle_runs_no_code(ws, entry):
    marker = ws / f'pwned_{entry}'
    path = ws / f'evil_{entry}.pth'
    torch.save(dict(meta={}, state_dict={}, x=Evil(str(marker))), path)
    work = ['--work-dir', str(ws / f'evil_{entry}')]
    args = dict(
        resume=[TRAIN, TINY, *work, '--resume', str(path)],
        load_from=[TRAIN, TINY, *work, '--cfg-options',
                   f'load_from={path}'],
        detector_checkpoint=[TRAIN, TINY, *work, '--cfg-options',
                             f'model.init.detector_checkpoint={path}'],
        test=[TEST, TINY, str(path), *work])[entry]
    res = run(args, ws)
    one_error_line(res, path.name, 'io.open')
    assert not marker.exists()


def test_load_from_another_models_weights(ws):
    path = ws / 'other.pth'
    torch.save(dict(state_dict=torch.nn.Linear(3, 3).state_dict()), path)
    res = run([TRAIN, TINY, '--work-dir', str(ws / 'r3'), '--cfg-options',
               f'load_from={path}'], ws)
    one_error_line(res, 'other.pth', 'does not match')


def test_test_with_a_missing_checkpoint(ws):
    res = run([TEST, TINY, str(ws / 'nope.pth')], ws)
    one_error_line(res, 'checkpoint not found', 'nope.pth')


def test_infer_with_an_empty_checkpoint(ws):
    empty = ws / 'empty.pth'
    empty.write_bytes(b'')
    img = 'data/cornershapes/images/val/000000.png'
    res = run([INFER, TINY, str(empty), '--img', img, '--question', 'hi?',
               '--out-dir', str(ws / 'i0')], ws)
    one_error_line(res, 'cannot read checkpoint', 'empty.pth')


# ------------------------------------------------------------------ infer
def test_infer_skips_bad_images_and_answers_the_rest(ws):
    bad = ws / 'bad'
    bad.mkdir()
    (bad / 'zero.png').write_bytes(b'')
    (bad / 'text.png').write_text('this is not an image')
    good = 'data/cornershapes/images/val/000000.png'
    trunc = bad / 'trunc.png'
    trunc.write_bytes(open(ws / good, 'rb').read()[:60])
    imgs = [str(bad / 'zero.png'), good, str(bad / 'text.png'),
            str(trunc), str(bad / 'missing.png')]
    out = ws / 'i1'
    res = run([INFER, TINY, str(ws / 'tiny.pth'), '--img', *imgs,
               '--question', 'How many circles are there?', '--out-dir',
               str(out)], ws)
    stdout, stderr = text(res)
    assert res.returncode == 0, stderr[-3000:]
    results = json.loads((out / 'results.json').read_text())
    assert [r['image'] for r in results] == imgs
    by_image = {r['image']: r for r in results}
    assert len(by_image[good]['answers']) == 1
    assert 'empty file' in by_image[str(bad / 'zero.png')]['error']
    assert 'cannot read the image' in by_image[str(bad / 'text.png')][
        'error']
    assert 'cannot read the image' in by_image[str(trunc)]['error']
    assert 'not found' in by_image[str(bad / 'missing.png')]['error']
    assert '4 of 5 image(s) skipped' in stderr
    assert 'Traceback' not in stderr


def test_infer_with_no_readable_image(ws):
    res = run([INFER, TINY, str(ws / 'tiny.pth'), '--img', 'no.png',
               '--out-dir', str(ws / 'i2')], ws)
    one_error_line(res, 'no image could be read', 'no.png')


@pytest.mark.parametrize('question, needle', [
    ('   ', 'question 1 is empty'),
    (b'caf\xe9?', 'question 1 is not valid UTF-8'),
])
def test_infer_refuses_bad_questions(ws, question, needle):
    img = 'data/cornershapes/images/val/000000.png'
    res = run([INFER, TINY, str(ws / 'tiny.pth'), '--img', img,
               '--question', question, '--out-dir', str(ws / 'i3')], ws)
    one_error_line(res, needle)


# ------------------------------------------------------------------- test
def test_overlong_question_is_skipped_and_the_run_finishes(ws):
    """A 50,000-character question: metrics and --out are still written,
    the skip is counted; ``skip_invalid`` (an argument of the dataset
    class, absent from the config) is accepted by --cfg-options."""
    qfile = ws / 'data' / 'cornershapes' / 'questions' / 'val.json'
    content = json.loads(qfile.read_text())
    content['data_list'][0]['questions'][0]['question'] = 'why ' * 12500
    (qfile.parent / 'val_long.json').write_text(json.dumps(content))
    out = ws / 't1' / 'preds.pkl'
    res = run([TEST, TINY, str(ws / 'tiny.pth'), '--work-dir',
               str(ws / 't1'), '--out', str(out), '--cfg-options',
               'test_dataloader.dataset.question_file=questions/'
               'val_long.json', 'test_dataloader.dataset.skip_invalid=True'],
              ws, timeout=600)
    stdout, stderr = text(res)
    assert res.returncode == 0, stderr[-3000:]
    assert out.is_file()
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    first = next(p for p in preds if p['img_id'] == content['data_list'][0]
                 ['image_id'])
    assert first['pred_answers'][0] == ''
    assert 'num_skipped_too_long: 1' in stdout + stderr
    assert 'question skipped' in stdout + stderr


def test_error_inside_the_test_loop_is_one_line(ws):
    """A corrupt image in the test set fails inside ``runner.test()``."""
    data = ws / 'corrupt_data'
    shutil.copytree(ws / 'data', data / 'data')
    (data / 'data' / 'cornershapes' / 'images' / 'val' /
     '000002.png').write_bytes(b'\x89PNG broken')
    res = run([TEST, TINY, str(ws / 'tiny.pth'), '--work-dir',
               str(ws / 't2')], data)
    one_error_line(res, 'val.json', '000002.png', 'pipeline failed')


def test_typo_in_a_class_argument_is_refused(ws):
    res = run([TEST, TINY, str(ws / 'tiny.pth'), '--cfg-options',
               'test_dataloader.dataset.skip_invalidd=True'], ws)
    one_error_line(res, 'skip_invalidd', 'nor is')


# ------------------------------------------------------------- converters
def test_converter_names_the_bad_record_or_skips_it(ws, tmp_path):
    conv = osp.join(TOOLS, 'dataset_converters', 'vqav2_to_mrmllm.py')
    qs = tmp_path / 'q.json'
    qs.write_text(json.dumps(dict(questions=[
        dict(image_id=1, question='What?', question_id=10),
        dict(image_id=1, question_id=11),
        dict(image_id=2, question='Why?', question_id=12)])))
    out = tmp_path / 'out.json'
    res = run([conv, '--questions', str(qs), '--out', str(out)], ws)
    one_error_line(res, 'q.json', 'question 11', "missing field 'question'")
    assert not out.exists()
    res = run([conv, '--questions', str(qs), '--out', str(out),
               '--skip-invalid'], ws)
    stdout, stderr = text(res)
    assert res.returncode == 0, stderr
    assert '2 questions; skipped 1 invalid records' in stdout
    assert 'skipped' in stderr and 'question 11' in stderr
