"""Time MR-MLLM against its two baselines (detector alone, MLLM alone).

Usage::

    python tools/analysis_tools/benchmark.py \
        configs/mrmllm/mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes.py \
        [--batch-size 4]

The main job's joint config loads the language stage's Llama from
``work_dirs/llama_4l_1xb12_2500i_cornershapes_text/hf_model``: train that
stage first or point ``--cfg-options model.llm.name_or_path=DIR`` at
another copy. The weight-free tiny model needs no stage:
``configs/_base_/models/mrmllm_tiny_dino.py --cfg-options
model.detector.bbox_head.num_classes=3`` (CornerShapes' classes).

The three variants (``joint``, ``detector_only``, ``mllm_only`` of the
config's model) are timed in one process, step by step in turn (joint,
detector, MLLM, joint, ...), so that drift of the machine's speed hits all
of them alike; each variant's peak memory is measured in a subprocess of
its own. Reported: median train-step and inference (detect + answer)
times, the ratio ``joint / (detector + mllm)``, the time of each part of
every variant (``PartTimer``) and how often the detector head ran per
image, how joint inference (perception included) and answering alone grow
with the number of questions per image (1, 4, 16; answering with the
shared prefix of ``LLMHead.generate_ids`` and without;
``--scaling-only``: only this), the prompt-token overhead of the
perception prompt, peak memory and parameter counts per part. The last
line is the same as JSON (``BENCHMARK {...}``).

Against transformers' own InstructBLIP::

    python tools/analysis_tools/benchmark.py --vs-transformers DIR \
        [--questions 16] [--max-new-tokens 10]

loads the InstructBLIP directory ``DIR`` (``save_pretrained`` of the model
and its processor, e.g. stage 1c's ``hf_instructblip``) twice, as
``MRMLLM(variant='mllm_only', mllm=dict(pretrained=DIR))`` and as
``InstructBlipForConditionalGeneration``, and times, in turn, the
toolkit's inference (``perceive`` + ``answer``) and ``generate`` on the
same image (the processor's pixels), question(s) and greedy settings:
one question, then ``--questions`` questions on the image (the toolkit
answers them in one call; transformers once per question, and once as a
batch of the image repeated). It prints the answers' agreement and the
ratios (``VS_TRANSFORMERS {...}``).
"""
import argparse
import copy
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import time

import torch
from mmengine.config import DictAction

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from mmmrmllm.datasets.cornershapes import CLASSES  # noqa: E402

VARIANTS = ('joint', 'detector_only', 'mllm_only')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', nargs='?')
    p.add_argument('--vs-transformers', metavar='DIR',
                   help="time against transformers' InstructBLIP on this "
                   'directory (no config needed)')
    p.add_argument('--questions', type=int, default=16,
                   help='--vs-transformers: questions on one image')
    p.add_argument('--max-new-tokens', type=int, default=10,
                   help='--vs-transformers: tokens generated per answer')
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--max-objects', type=int, default=10)
    p.add_argument('--det-size', type=int, default=128)
    p.add_argument('--enc-size', type=int, default=64)
    p.add_argument('--device', default='cuda'
                   if torch.cuda.is_available() else 'cpu')
    p.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={},
        help='override config keys, e.g. '
        "model.couplings.box_token_targets=\"('fusion','llm')\"")
    p.add_argument('--clock', choices=('wall', 'cpu'), default='wall',
                   help='time by wall clock or by process CPU time (a '
                   'machine shared with other jobs; use OMP_NUM_THREADS=1)')
    p.add_argument('--scaling-only', action='store_true',
                   help="only the joint model's questions-per-image "
                   'scaling (no variants, memory or parts)')
    p.add_argument('--memory-of', choices=VARIANTS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if (args.config is None) == (args.vs_transformers is None):
        p.error('give a config, or --vs-transformers DIR')
    return args


QUESTIONS = ('How many circles are there in the image?',
             'Is there a square in the image?',
             'What colour is the triangle?',
             'What shape is in the top-left?')
ANSWERS = ('two', 'yes', 'red', 'circle')
TARGET = 1.10
SCALING = (1, 4, 16)


def make_batch(n, det_size, enc_size, seed=0, questions=1):
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    g = torch.Generator().manual_seed(seed)
    samples, det, enc = [], [], []
    for i in range(n):
        s = DetDataSample(
            metainfo=dict(
                img_id=i,
                ori_shape=(det_size, det_size),
                img_shape=(det_size, det_size),
                scale_factor=(1.0, 1.0),
                has_det_ann=True,
                classes=CLASSES))
        xy = torch.rand(3, 2, generator=g) * det_size / 2
        wh = torch.rand(3, 2, generator=g) * det_size / 3 + 8
        s.gt_instances = InstanceData(
            bboxes=torch.cat([xy, xy + wh], 1),
            labels=torch.randint(0, len(CLASSES), (3, ), generator=g))
        s.questions = [QUESTIONS[k % 4] for k in range(questions)]
        s.gt_answers = [[ANSWERS[k % 4]] for k in range(questions)]
        s.question_types = ['other'] * questions
        s.question_ids = [i * 100 + k for k in range(questions)]
        samples.append(s)
        det.append(torch.randint(0, 256, (3, det_size, det_size),
                                 generator=g, dtype=torch.uint8))
        enc.append(torch.randint(0, 256, (3, enc_size, enc_size),
                                 generator=g, dtype=torch.uint8))
    return dict(inputs=dict(det=det, enc=enc), data_samples=samples)


def clock(args):
    """Seconds of wall time, or of this process' CPU time with ``--clock
    cpu`` (on a machine shared with other jobs: with one thread, the
    work done, whatever else runs)."""
    return time.process_time() if args.clock == 'cpu' else \
        time.perf_counter()


def sync(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def count_params(model):
    out = {}
    for name, child in model.named_children():
        if name == 'data_preprocessor':
            continue
        params = list(child.parameters())
        out[name] = (sum(p.numel() for p in params),
                     sum(p.numel() for p in params if p.requires_grad))
    return out


def build(args, variant):
    from mmengine.config import Config

    from mmmrmllm.models.mrmllm_args import model_arg, set_model_arg
    from mmmrmllm.registry import MODELS
    from mmmrmllm.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg = cfg.model
    cfg = copy.deepcopy(cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg)
    cfg['variant'] = variant
    # timing needs no trained weights: never load the init-only ones
    set_model_arg(cfg, 'init.lazy_load', True)
    if variant == 'detector_only':
        set_model_arg(cfg, 'mllm.pretrained', None)
    if not model_arg(cfg, 'detections.class_names'):
        set_model_arg(cfg, 'detections.class_names', CLASSES)
    if cfg.get('prompt_generator') is not None:
        cfg['prompt_generator']['max_objects'] = args.max_objects
        # Untrained detectors score low: list max_objects objects anyway.
        cfg['prompt_generator']['score_thr'] = 0.0
    torch.manual_seed(0)
    return MODELS.build(cfg).to(args.device)


class Runner:
    """One variant's model, optimizer and batch, with timed steps."""

    def __init__(self, args, variant):
        self.args = args
        self.model = build(args, variant)
        self.optim = torch.optim.AdamW(
            [p for p in self.model.parameters() if p.requires_grad],
            lr=1e-4)
        self.use_batch(1)

    def use_batch(self, questions):
        a = self.args
        self.data = make_batch(a.batch_size, a.det_size, a.enc_size,
                               questions=questions)

    def train_step(self):
        model = self.model
        model.train()
        batch = model.data_preprocessor(copy.deepcopy(self.data), True)
        losses = model(**batch, mode='loss')
        loss, _ = model.parse_losses(losses)
        self.optim.zero_grad()
        loss.backward()
        self.optim.step()

    def infer(self):
        model = self.model
        model.eval()
        with torch.no_grad():
            batch = model.data_preprocessor(copy.deepcopy(self.data), False)
            model(**batch, mode='predict')

    def timed(self, step):
        sync(self.args.device)
        t = clock(self.args)
        step()
        sync(self.args.device)
        return clock(self.args) - t


def peak_memory(args):
    """Peak memory of one variant (its own process): a few train steps and
    inferences."""
    runner = Runner(args, args.memory_of)
    for _ in range(2):
        runner.train_step()
        runner.infer()
    if args.device.startswith('cuda'):
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print('RESULT ' + json.dumps(
        dict(peak_mem_mb=peak, params=count_params(runner.model))))


def interleaved(args, runners, step_name):
    """Median time of ``step_name`` per runner, the runners in turn."""
    times = {v: [] for v in runners}
    for i in range(args.warmup + args.iters):
        for v, r in runners.items():
            t = r.timed(getattr(r, step_name))
            if i >= args.warmup:
                times[v].append(t)
    return {v: statistics.median(t) for v, t in times.items()}


def parts(args, runner, step_name):
    """Seconds per step and runs per image of each part (PartTimer)."""
    from mmmrmllm.utils.part_timer import PartTimer
    timer = PartTimer()
    step = getattr(runner, step_name)
    with timer.attach(runner.model):
        step()
        timer.reset()
        for _ in range(args.iters):
            with timer.part('total'):
                step()
    return {
        name: dict(s=sec / args.iters,
                   calls_per_image=timer.images[name] / args.iters /
                   args.batch_size)
        for name, sec in timer.seconds.items()
    }


def question_scaling(args, runner):
    """Median seconds with 1 / 4 / 16 questions per image of joint
    inference (perception included, ``predict``) and of answering alone
    (``answer`` on an already perceived batch, with the shared prefix and
    with every sequence run whole), all timed in turn; and whether both
    give the same answers."""
    model = runner.model
    model.eval()
    out, same = {}, True
    for nq in SCALING:
        runner.use_batch(nq)
        data = runner.data
        batch = model.data_preprocessor(copy.deepcopy(data), False)
        with torch.no_grad():
            state = model.perceive(batch['inputs'], batch['data_samples'])
        def infer():
            b = model.data_preprocessor(copy.deepcopy(data), False)
            return [s.pred_answers
                    for s in model.predict(b['inputs'], b['data_samples'])]

        steps, answers = dict(infer_shared=infer), {}
        for share in (True, False):
            def answer(share=share):
                return model.answer(state, batch['data_samples'],
                                    share_prefix=share)

            steps['answer_' + ('shared' if share else 'whole')] = answer
        times = {k: [] for k in steps}
        with torch.no_grad():
            for i in range(args.warmup + args.iters):
                for k, step in steps.items():
                    def run(k=k, step=step):
                        answers[k] = step()
                    t = runner.timed(run)
                    if i >= args.warmup:
                        times[k].append(t)
        same &= answers['infer_shared'] == answers['answer_whole'] == \
            answers['answer_shared']
        out[str(nq)] = {k: statistics.median(t) for k, t in times.items()}
    runner.use_batch(1)
    return out, same


def print_scaling(scaling, same, batch_size):
    one = scaling['1']
    print(f'questions per image (batch of {batch_size} images), seconds and '
          'x one question:')
    for kind, label in (('infer_shared', 'whole pipeline'),
                        ('answer_shared', 'answering alone'),
                        ('answer_whole', 'answering, sequences whole')):
        print(f'  {label}: ' + ', '.join(
            f'{n}: {t[kind]:.3f} s ({t[kind] / one[kind]:.2f}x)'
            for n, t in scaling.items()))
    last = scaling[str(SCALING[-1])]
    print(f'{SCALING[-1]} questions / 1, shared prefix: whole pipeline '
          f'{last["infer_shared"] / one["infer_shared"]:.2f}x (target '
          f'<= 1.3), answering alone '
          f'{last["answer_shared"] / one["answer_shared"]:.2f}x (target '
          f'<= 2); same answers as whole sequences: {same}')


def prompt_stats(runner):
    model = runner.model
    model.eval()
    batch = model.data_preprocessor(copy.deepcopy(runner.data), False)
    with torch.no_grad():
        state = model._perceive(batch['inputs'], batch['data_samples'],
                                False)
    with_p, without = [], []
    for d, s in zip(state.detections, batch['data_samples']):
        gen = model.prompt_generator
        objects = gen.select(d.boxes, d.labels, d.scores)
        text = gen.render(objects, model._classes([s]))
        for q in s.questions:
            with_p.append(len(model.llm._encode(q, text).suffix))
            without.append(len(model.llm._encode(q, '').suffix))
    return dict(
        prompt_tokens_with=statistics.mean(with_p),
        prompt_tokens_without=statistics.mean(without),
        box_tokens=statistics.mean(len(t) for t in state.llm_box_tokens)
        if state.llm_box_tokens is not None else 0,
        soft_tokens=model.fusion.num_queries)


def vs_transformers(args):
    """The toolkit's InstructBLIP inference against transformers' on the
    same directory (see the module's docstring)."""
    import numpy as np
    from transformers import (
        InstructBlipForConditionalGeneration,
        InstructBlipProcessor,
    )

    from mmmrmllm.registry import MODELS
    from mmmrmllm.structures import MRMLLMDataSample
    from mmmrmllm.utils import register_all_modules
    register_all_modules()
    path, dev = args.vs_transformers, args.device
    processor = InstructBlipProcessor.from_pretrained(path)
    # a batch of prompts ends where generation starts
    processor.tokenizer.padding_side = 'left'
    hf = InstructBlipForConditionalGeneration.from_pretrained(path).to(
        dev).eval()
    ip = processor.image_processor
    model = MODELS.build(dict(
        type='MRMLLM', variant='mllm_only', mllm=dict(pretrained=path),
        data_preprocessor=dict(
            type='MRMLLMDataPreprocessor',
            enc=dict(mean=[m * 255 for m in ip.image_mean],
                     std=[s * 255 for s in ip.image_std],
                     bgr_to_rgb=True)),
        vision_encoder=dict(type='HFVisionEncoder'),
        fusion=dict(type='SharedQueryFusion'),
        llm=dict(type='LLMHead'))).to(dev).eval()
    # the processor's resized image, so both read the same pixels
    size = (ip.size['height'], ip.size['width'])
    img = np.random.RandomState(0).randint(0, 256, size + (3, ),
                                           dtype=np.uint8)
    questions = [QUESTIONS[k % len(QUESTIONS)]
                 for k in range(args.questions)]
    gen = dict(max_new_tokens=args.max_new_tokens, do_sample=False,
               num_beams=1)
    template = model.llm.prompt_template.replace('<image>', '')

    def toolkit_data(qs):
        sample = MRMLLMDataSample(metainfo=dict(
            img_id=0, img_path='img.png', ori_shape=size, img_shape=size,
            scale_factor=(1.0, 1.0), has_det_ann=False))
        sample.questions = list(qs)
        bgr = torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1)
        return model.data_preprocessor(
            dict(inputs=dict(enc=[bgr]), data_samples=[sample]), False)

    def hf_inputs(qs):
        texts = [template.format(question=q, perception='') for q in qs]
        return processor(images=[img] * len(qs), text=texts,
                         padding=True, return_tensors='pt').to(dev)

    def toolkit(data):
        def run():
            with torch.no_grad():
                state = model.perceive(data['inputs'], data['data_samples'])
                return model.answer(state, data['data_samples'], **gen)[0]
        return run

    def transformers_(inputs):
        def run():
            with torch.no_grad():
                ids = hf.generate(**inputs, **gen)
            # its LLM was given the prompt's ids too: they lead the output
            texts = processor.batch_decode(
                ids[:, inputs['input_ids'].shape[1]:],
                skip_special_tokens=True)
            return [t.strip() for t in texts]
        return run

    one_q = questions[:1]
    cases = dict(
        toolkit_1=toolkit(toolkit_data(one_q)),
        transformers_1=transformers_(hf_inputs(one_q)),
        toolkit_n=toolkit(toolkit_data(questions)),
        transformers_n_calls=lambda: sum(
            (transformers_(hf_inputs([q]))() for q in questions), []),
        transformers_n_batch=transformers_(hf_inputs(questions)))
    answers = {name: run() for name, run in cases.items()}
    times = {name: [] for name in cases}
    for i in range(args.warmup + args.iters):
        for name, run in cases.items():
            sync(dev)
            t = clock(args)
            run()
            sync(dev)
            if i >= args.warmup:
                times[name].append(clock(args) - t)
    med = {name: statistics.median(t) for name, t in times.items()}
    same = dict(
        one=answers['toolkit_1'] == answers['transformers_1'],
        n_calls=answers['toolkit_n'] == answers['transformers_n_calls'],
        n_batch=answers['toolkit_n'] == answers['transformers_n_batch'])
    n = args.questions
    ratios = dict(
        per_question=med['toolkit_1'] / med['transformers_1'],
        n_questions_calls_speedup=med['transformers_n_calls'] /
        med['toolkit_n'],
        n_questions_batch_speedup=med['transformers_n_batch'] /
        med['toolkit_n'],
        toolkit_n_over_1=med['toolkit_n'] / med['toolkit_1'])
    print(f'device: {dev}, torch threads: {torch.get_num_threads()}, '
          f'{args.clock} clock, median of {args.iters} after {args.warmup} '
          f'warm-up, in turn; greedy, {args.max_new_tokens} new tokens at '
          'most')
    for name, t in med.items():
        print(f'  {name:<22}{t:10.4f} s')
    print(f'same answers as transformers: one question {same["one"]}, '
          f'{n} questions {same["n_calls"]} (one call each), '
          f'{same["n_batch"]} (batched)')
    print(f'toolkit / transformers per question: '
          f'{ratios["per_question"]:.3f} (target <= 1.05)')
    print(f'{n} questions on one image: toolkit '
          f'{ratios["n_questions_calls_speedup"]:.2f}x faster than {n} '
          f'generate calls (target >= 3), '
          f'{ratios["n_questions_batch_speedup"]:.2f}x than one batched '
          f'call; toolkit {n} / 1 question: '
          f'{ratios["toolkit_n_over_1"]:.2f}x')
    print('VS_TRANSFORMERS ' + json.dumps(dict(
        dir=path, device=dev, iters=args.iters, questions=n,
        max_new_tokens=args.max_new_tokens, seconds=med,
        same_answers=same, ratios=ratios, answers=answers)))
    return dict(seconds=med, same_answers=same, ratios=ratios,
                answers=answers)


def main(argv=None):
    args = parse_args(argv)
    if args.vs_transformers:
        return vs_transformers(args)
    if args.memory_of:
        peak_memory(args)
        return
    if args.scaling_only:
        joint = Runner(args, 'joint')
        scaling, same = question_scaling(args, joint)
        print(f'device: {args.device}, torch threads: '
              f'{torch.get_num_threads()}, {args.clock} clock, median of '
              f'{args.iters} after {args.warmup} warm-up, in turn')
        print_scaling(scaling, same, args.batch_size)
        print('BENCHMARK ' + json.dumps(dict(
            config=args.config, device=args.device,
            batch_size=args.batch_size, iters=args.iters,
            questions_scaling=scaling, same_answers=same)))
        return
    results = {v: {} for v in VARIANTS}
    for variant in VARIANTS:
        print(f'peak memory: {variant}', flush=True)
        cmd = [sys.executable, __file__] + sys.argv[1:] + [
            '--memory-of', variant
        ]
        out = subprocess.run(
            cmd, capture_output=True, text=True, env=dict(os.environ))
        lines = [
            ln for ln in out.stdout.splitlines() if ln.startswith('RESULT')
        ]
        if out.returncode or not lines:
            print(out.stdout[-3000:], out.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f'variant {variant} failed')
        results[variant].update(json.loads(lines[-1][len('RESULT '):]))

    print('timing (variants in turn)', flush=True)
    runners = {v: Runner(args, v) for v in VARIANTS}
    for v, t in interleaved(args, runners, 'train_step').items():
        results[v]['train_s'] = t
    for v, t in interleaved(args, runners, 'infer').items():
        results[v]['infer_s'] = t
    for v, r in runners.items():
        results[v]['train_parts'] = parts(args, r, 'train_step')
        results[v]['infer_parts'] = parts(args, r, 'infer')
    joint = runners['joint']
    scaling, same = {}, None
    if joint.model.llm is not None:
        scaling, same = question_scaling(args, joint)
    if joint.model.detector is not None and joint.model.llm is not None:
        results['joint'].update(prompt_stats(joint))

    j, d, m = (results[v] for v in VARIANTS)
    print(f'device: {args.device}, torch threads: {torch.get_num_threads()}'
          f', batch {args.batch_size}, max_objects {args.max_objects}, '
          f'median of {args.iters} after {args.warmup} warm-up, variants '
          'in turn')
    print(f'{"":16}{"train step s":>14}{"inference s":>14}{"peak MB":>10}')
    for name, r in zip(VARIANTS, (j, d, m)):
        print(f'{name:16}{r["train_s"]:14.3f}{r["infer_s"]:14.3f}'
              f'{r["peak_mem_mb"]:10.0f}')
    ratios = {}
    for key, label in (('train_s', 'train'), ('infer_s', 'inference')):
        ratios[label] = j[key] / (d[key] + m[key])
        print(f'ratio joint / (detector + mllm), {label}: '
              f'{ratios[label]:.3f} (target <= {TARGET})')
    mem_ratio = j['peak_mem_mb'] / (d['peak_mem_mb'] + m['peak_mem_mb'])
    print(f'peak memory joint / (detector + mllm): {mem_ratio:.3f}')
    for key, label in (('train_parts', 'train step'),
                       ('infer_parts', 'inference')):
        extra = ', backward and optimizer included' \
            if key == 'train_parts' else ''
        print(f'{label} by part, s per step ("total" is the whole step'
              f'{extra}):')
        names = sorted(j[key], key=lambda n: -j[key][n]['s'])
        print(f'  {"":20}' + ''.join(f'{v:>15}' for v in VARIANTS))
        for name in names:
            row = ''.join(
                f'{r[key][name]["s"]:15.4f}' if name in r[key] else
                f'{"-":>15}' for r in (j, d, m))
            print(f'  {name:<20}{row}')
        print('  detector head runs per image (joint): '
              f'{j[key].get("detector.head", {}).get("calls_per_image")}')
    if scaling:
        print_scaling(scaling, same, args.batch_size)
    if 'prompt_tokens_with' in j:
        print(f'prompt tokens per question: {j["prompt_tokens_without"]:.1f}'
              f' without perception text, {j["prompt_tokens_with"]:.1f} with'
              f' (+{j["prompt_tokens_with"] - j["prompt_tokens_without"]:.1f}'
              f'); plus {j["soft_tokens"]} soft and {j["box_tokens"]:.1f} box'
              ' tokens')
    print('parameters (total / trainable):')
    for name, r in zip(VARIANTS, (j, d, m)):
        parts_ = ', '.join(f'{k} {t / 1e6:.2f}M/{tr / 1e6:.2f}M'
                           for k, (t, tr) in r['params'].items())
        print(f'  {name}: {parts_}')
    summary = dict(
        config=args.config, device=args.device,
        threads=torch.get_num_threads(), batch_size=args.batch_size,
        iters=args.iters,
        train_s={v: r['train_s'] for v, r in results.items()},
        infer_s={v: r['infer_s'] for v, r in results.items()},
        peak_mem_mb={v: r['peak_mem_mb'] for v, r in results.items()},
        ratio_train=ratios['train'], ratio_infer=ratios['inference'],
        ratio_peak_mem=mem_ratio, target=TARGET,
        head_runs_per_image_train=j['train_parts'].get(
            'detector.head', {}).get('calls_per_image'),
        head_runs_per_image_infer=j['infer_parts'].get(
            'detector.head', {}).get('calls_per_image'),
        questions_scaling=scaling,
        questions_16_over_1=(scaling['16']['infer_shared'] /
                             scaling['1']['infer_shared'])
        if scaling else None,
        same_answers_shared_prefix=same)
    print('BENCHMARK ' + json.dumps(summary))


if __name__ == '__main__':
    main()
