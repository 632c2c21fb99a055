"""docs/extending.md runs: its marked ``python`` blocks are executed and
what they build is checked, so the guide cannot rot.

A block preceded by ``<!-- test: NAME -->`` belongs to example NAME; each
example runs in a fresh namespace, in a temporary directory, after the
``setup`` blocks. The ``project`` block is a config file, read by MMEngine
in its own process; the ``mechanism`` example's first two blocks are the
files its third reads, and its study command is run as written. Unmarked
blocks (config snippets) are compiled only.
"""
import importlib.util
import os.path as osp
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOC = osp.join(ROOT, 'docs', 'extending.md')
EXAMPLES = ('adapter', 'llm', 'dataset', 'metric', 'mechanism')
FENCE = re.compile(r'(?:<!-- test: (\w+) -->\n)?```python\n(.*?)```', re.S)


def doc_blocks():
    """``(name or None, code)`` for every python block, in order."""
    with open(DOC, encoding='utf-8') as f:
        return [(m.group(1), m.group(2)) for m in FENCE.finditer(f.read())]


def blocks(name):
    return [code for n, code in doc_blocks() if n == name]


def run(ns, name, code):
    exec(compile(code, f'docs/extending.md [{name}]', 'exec'), ns)


@pytest.fixture
def example(tmp_path, monkeypatch):
    """Run the setup blocks in a fresh namespace inside ``tmp_path``;
    ``ns, rest = example(name)`` returns it and the example's blocks."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))

    def start(name):
        torch.manual_seed(0)
        ns = {'__name__': f'extending_md_{name}'}
        for code in blocks('setup'):
            run(ns, 'setup', code)
        return ns, blocks(name)

    return start


def test_every_block_compiles_and_every_example_is_marked():
    found = doc_blocks()
    for name, code in found:
        compile(code, f'docs/extending.md [{name}]', 'exec')
    names = {n for n, _ in found if n}
    assert names == {'setup', 'project', *EXAMPLES}, names
    assert len(blocks('adapter')) == 3 and len(blocks('llm')) == 2
    assert len(blocks('mechanism')) == 3


def test_doc_imports_only_package_level_paths():
    """Module files are being split: the guide imports packages (and
    the registry module) only."""
    text = open(DOC, encoding='utf-8').read()
    mods = set(re.findall(r'from (mmmrmllm[\w.]*) import', text))
    assert mods, 'no mmmrmllm import found'
    for mod in mods - {'mmmrmllm.registry'}:
        spec = importlib.util.find_spec(mod)
        assert spec is not None, mod
        assert spec.submodule_search_locations is not None, \
            f'{mod} is a module file, not a package'


def test_adapter(example):
    ns, (detector_block, adapter_block, run_block) = example('adapter')
    run(ns, 'adapter', detector_block)
    cfg = dict(type='MRMLLM', llm=ns['TINY_LLM'], **ns['TINY_PARTS'],
               detector=dict(ns['TINY_DETECTOR'], type='SparseFCOS'))
    # before its adapter is registered, the detector is refused
    with pytest.raises(NotImplementedError,
                       match=r'SparseFCOS.*overrides \[.loss.\]'):
        ns['MODELS'].build(cfg)
    run(ns, 'adapter', adapter_block)
    run(ns, 'adapter', run_block)
    model, losses, preds = ns['model'], ns['losses'], ns['preds']
    assert type(model.det_adapter) is ns['SparseFCOSAdapter']
    assert {'det.loss_cls', 'det.loss_bbox', 'det.loss_sparse',
            'lm.loss_lm'} <= set(losses)
    # the adapter's extra loss is on the fed-back neck features and trains
    # the detector through the joint model
    sparse = losses['det.loss_sparse']
    assert sparse.requires_grad and sparse.item() > 0
    model.zero_grad()
    sparse.backward()
    neck = [p.grad for p in model.detector.neck.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in neck)
    # predict: the adapter's detections and one answer per question
    assert len(preds) == 2
    for p in preds:
        assert p.pred_instances.bboxes.shape == (5, 4)  # max_per_img=5
        assert p.pred_instances.scores.shape == (5, )
        assert len(p.pred_answers) == 1
        assert isinstance(p.pred_answers[0], str)


def test_llm(example):
    ns, (save_block, use_block) = example('llm')
    run(ns, 'llm', save_block)
    llm_dir = ns['llm_dir']
    assert osp.isfile(osp.join(llm_dir, 'config.json'))
    assert osp.isfile(osp.join(llm_dir, 'tokenizer.json'))
    run(ns, 'llm', use_block)
    model = ns['model']
    assert model.llm.prompt_template == \
        'USER: <image>{perception}{question} ASSISTANT:'
    # the LLM and its tokenizer come from the directory
    assert model.weight_sources()['llm'] == llm_dir
    assert model.llm.tokenizer.chat_template == ns['tok'].chat_template
    assert model.llm.eos_token_id == ns['tok'].eos_token_id
    # it answers, one answer per question, through the chat template
    answers, prompts = ns['answers'], ns['prompts']
    assert len(answers) == len(prompts) == 2
    for per_image, texts in zip(answers, prompts):
        assert len(per_image) == 1 and isinstance(per_image[0], str)
        (text, ) = texts
        # as the LLM received it: the project's tokenizer lower-cases
        assert re.fullmatch(
            r'user: <\d+ visual tokens>.*how many squares \? assistant:',
            text, re.S), text
    # and trains on answers that follow the template
    model.train()
    loss = model(**ns['toy_batch'](model), mode='loss')['lm.loss_lm']
    assert torch.isfinite(loss)


def test_dataset(example, tmp_path):
    ns, (code, ) = example('dataset')
    run(ns, 'dataset', code)
    dataset = ns['dataset']
    assert len(dataset) == 2
    assert dataset.metainfo['classes'] == ('circle', 'square', 'triangle')

    boxed = dataset[0]  # toy.png: a box and a question
    assert boxed['inputs']['det'].shape == (3, 64, 64)
    assert boxed['inputs']['enc'].shape == (3, 32, 32)
    assert boxed['inputs']['det'].dtype == torch.uint8
    ds = boxed['data_samples']
    assert ds.has_det_ann is True
    assert ds.gt_instances.bboxes.tensor.tolist() == [[8, 8, 28, 28]]
    assert ds.gt_instances.labels.tolist() == [1]
    assert ds.questions == ['how many squares ?']
    assert ds.gt_answers == [['1']]
    assert ds.question_types == ['counting']
    assert ds.question_ids == ['0_0']

    vqa_only = ns['packed']  # dark.png (48 x 64), resized to 64 x 64
    assert vqa_only['inputs']['det'].shape == (3, 64, 64)
    ds = vqa_only['data_samples']
    assert ds.has_det_ann is False
    assert ds.gt_instances.bboxes.shape == (0, 4)
    assert ds.questions == ['is there a circle ?']
    assert ds.gt_answers == [['no']]
    assert ds.question_types == ['existence']
    assert ds.metainfo['ori_shape'] == (48, 64)

    # a bad record is refused with the file named, or counted if skipped
    from mmmrmllm.datasets import DataRecordError
    with open('bad.csv', 'w') as f:
        f.write('image,kind,x1,y1,x2,y2,label,question,answer,type\n'
                'toy.png,box,8,8,28,28,star,,,\n'
                'toy.png,box,8,8,28,28,square,,,\n')
    build = ns['DATASETS'].build
    with pytest.raises(DataRecordError, match=r"bad\.csv.*'star'"):
        build(dict(type='ShapesCsvDataset', ann_file='bad.csv',
                   pipeline=ns['PIPELINE']))
    skipping = build(dict(type='ShapesCsvDataset', ann_file='bad.csv',
                          pipeline=ns['PIPELINE'], skip_invalid=True))
    assert skipping.drop_counts['unknown_category'] == 1
    assert skipping[0]['data_samples'].gt_instances.labels.tolist() == [1]


def test_metric(example):
    ns, (code, ) = example('metric')
    run(ns, 'metric', code)
    metrics = ns['metrics']
    # the numbers worked out by hand under the example
    assert metrics['counting/mae'] == 1.0
    assert metrics['counting/agreement'] == 0.5
    assert metrics['vqa/acc'] == 0.5

    from mmdet.structures import DetDataSample
    from mmengine.evaluator import Evaluator
    from mmengine.structures import InstanceData
    predicted = ns['predicted']
    # a colour question is ignored; 'many' is no number (0) against 2:
    # error 2, and no detection passes 0.5 (agrees)
    mixed = predicted('many', ['2'], [0.2])
    mixed.questions = ['what colour is it ?', 'how many squares ?']
    mixed.question_types = ['colour', 'counting']
    mixed.gt_answers = [['red'], ['2']]
    mixed.pred_answers = ['red', 'many']
    no_questions = DetDataSample(metainfo=dict(img_id=9, has_det_ann=True))
    no_questions.pred_instances = InstanceData(
        bboxes=torch.zeros(0, 4), scores=torch.zeros(0),
        labels=torch.zeros(0, dtype=torch.long))
    # 'four' against 3: error 1; four detections pass (agrees)
    four = predicted('four', ['3', '3', '2'], [0.9, 0.9, 0.7, 0.5])
    evaluator = Evaluator([dict(type='CountingMetric', score_thr=0.5)])
    samples = [mixed, no_questions, four]
    evaluator.process(samples)
    assert evaluator.evaluate(len(samples)) == {
        'counting/mae': 1.5, 'counting/agreement': 1.0}


def test_project_config(tmp_path):
    """Section 5's config, with example 1's detector and adapter blocks as
    the project module, registers both when MMEngine reads it (in its own
    process: test_adapter registers the same names in this one)."""
    shutil.copytree(osp.join(ROOT, 'configs'), tmp_path / 'configs')
    shutil.copytree(osp.join(ROOT, 'projects', 'MRMLLM_FCOS'),
                    tmp_path / 'projects' / 'MRMLLM_FCOS')
    (config, ) = blocks('project')
    path = config.splitlines()[0].lstrip('# ')
    assert path.startswith('projects/SparseFCOS/configs/'), path
    (tmp_path / path).parent.mkdir(parents=True)
    (tmp_path / path).write_text(config)
    (tmp_path / 'projects' / 'SparseFCOS' / 'sparse_fcos.py').write_text(
        '\n'.join(blocks('adapter')[:2]))
    script = '\n'.join([
        'import sys',
        f'sys.path[:0] = [{str(tmp_path)!r}, {ROOT!r}]',
        'from mmengine.config import Config',
        'from mmmrmllm.models.det_adapters import build_detector_adapter',
        'from mmmrmllm.registry import MODELS',
        'from mmmrmllm.utils import register_all_modules',
        'register_all_modules()',
        f'cfg = Config.fromfile({path!r})',
        'det = MODELS.build(cfg.model.detector)',
        'adapter = build_detector_adapter(det)',
        'print(type(det).__name__, type(adapter).__name__)',
    ])
    out = subprocess.run([sys.executable, '-c', script], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[-2:] == ['SparseFCOS', 'SparseFCOSAdapter']


def test_mechanism(example, tmp_path, monkeypatch, capsys):
    """Section 6: the feedback's file and its config, as written; the
    config's feedback trains on the tiny parts; the guide's study command
    lists it as a row to run, on the same stage outputs as the others."""
    ns, (module, config, try_block) = example('mechanism')
    shutil.copytree(osp.join(ROOT, 'configs'), tmp_path / 'configs')
    for code in (module, config):  # each block's first line is its path
        path = tmp_path / code.splitlines()[0].lstrip('# ')
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    run(ns, 'mechanism', try_block)
    feedback = ns['model'].feedback
    cls = type(feedback)
    assert cls.__module__ == 'projects.PooledFeedback.pooled_feedback'
    assert cls.__name__ == 'PooledFeedback'
    assert feedback.gate.shape == (32, )  # the neck's width, filled in
    # a subclass of the contract, its gate found through it
    from mmmrmllm.models import BaseFeedback
    assert isinstance(feedback, BaseFeedback)
    assert ns['gates']['feedback.gate'] is feedback.gate
    assert 'fusion.p_gate' in ns['gates']
    assert torch.isfinite(ns['loss'])
    # the zero gate gets a gradient and opens in one step ...
    assert feedback.gate.grad.abs().sum() > 0
    assert feedback.gate.abs().min() > 0
    # ... and at zero the detector's features pass unchanged
    feats = (torch.randn(2, 32, 4, 4), torch.randn(2, 32, 2, 2))
    queries = torch.randn(2, 4, 32)
    with torch.no_grad():
        opened = feedback(feats, queries)
        feedback.gate.zero_()
        closed = feedback(feats, queries)
    assert all(torch.equal(a, b) for a, b in zip(closed, feats))
    assert not torch.allclose(opened[0], feats[0])

    command = re.search(r'^python (tools/analysis_tools/ablation_study\.py'
                        r' .*)$', open(DOC, encoding='utf-8').read(), re.M)
    argv = shlex.split(command.group(1))[1:]
    # never the grid itself (hours of CPU), whatever the guide says; and
    # a results file of the test's own
    assert '--dry-run' in argv, 'the guide must show the dry run'
    argv += ['--results', str(tmp_path / 'results.json')]
    monkeypatch.syspath_prepend(osp.join(ROOT, 'tools', 'analysis_tools'))
    import ablation_study as study
    args = study.parse_args(argv)  # the paths are the guide's, from here
    study.main(argv)
    out = capsys.readouterr().out
    description = ns['cfg'].ablation_row.description
    assert re.search(r'^\[study\] row pooled_feedback \(seeds \[0\]\): '
                     r'\S+/mrmllm_pooled_feedback_\S+\.py: '
                     f'{re.escape(description)}$', out, re.M), out
    assert '[study] to run: pooled_feedback seed 0' in out.splitlines()
    # its run: the config's feedback on stage 1a's detector and 1c's MLLM
    run_cfg = study.run_config(args, 'pooled_feedback', 0, dict(
        checkpoint='1a/iter_250.pth', hf_instructblip='1c/hf_instructblip'))
    assert run_cfg.model.feedback.type is cls
    assert run_cfg.model.init.detector_checkpoint == '1a/iter_250.pth'
    assert run_cfg.model.mllm.pretrained == '1c/hf_instructblip'
