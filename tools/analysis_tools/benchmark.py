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
image, how joint inference grows with the number of questions per image
(1, 4, 16), the prompt-token overhead of the perception prompt, peak memory
and parameter counts per part. The last line is the same as JSON
(``BENCHMARK {...}``).
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


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
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
        "model.box_token_targets=\"('fusion','llm')\"")
    p.add_argument('--memory-of', choices=VARIANTS, help=argparse.SUPPRESS)
    return p.parse_args()


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
    cfg['lazy_init_weights'] = True
    if variant == 'detector_only':
        cfg['pretrained_mllm'] = None
    cfg.setdefault('class_names', CLASSES)
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
        t = time.perf_counter()
        step()
        sync(self.args.device)
        return time.perf_counter() - t


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


def main():
    args = parse_args()
    if args.memory_of:
        peak_memory(args)
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
    scaling = {}
    if joint.model.llm is not None:
        for nq in SCALING:
            joint.use_batch(nq)
            scaling[str(nq)] = statistics.median(
                [joint.timed(joint.infer) for _ in range(args.iters)])
        joint.use_batch(1)
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
        one = scaling['1']
        print('joint inference vs questions per image: ' + ', '.join(
            f'{n}: {t:.3f} s ({t / one:.2f}x)' for n, t in scaling.items()))
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
        questions_16_over_1=(scaling['16'] / scaling['1'])
        if scaling else None)
    print('BENCHMARK ' + json.dumps(summary))


if __name__ == '__main__':
    main()
