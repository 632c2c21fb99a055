"""Time MR-MLLM against its two baselines (detector alone, MLLM alone).

Usage::

    python tools/analysis_tools/benchmark.py \
        configs/_base_/models/mrmllm_tiny_dino.py [--batch-size 4]

Each variant (``joint``, ``detector_only``, ``mllm_only`` of the config's
model) runs in its own subprocess so its peak memory is its own. Reported:
median train-step and inference (detect + answer) times, the ratio
``joint / (detector + mllm)``, the cost of the no-grad detection pass, the
prompt-token overhead of the perception prompt, peak memory and parameter
counts per part.
"""
import argparse
import copy
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

VARIANTS = ('joint', 'detector_only', 'mllm_only')
CLASSES = ('circle', 'square', 'triangle')


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
    p.add_argument('--variant', choices=VARIANTS, help=argparse.SUPPRESS)
    return p.parse_args()


def make_batch(n, det_size, enc_size, seed=0):
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
            labels=torch.randint(0, 3, (3, ), generator=g))
        s.questions = ['How many circles are there in the image?']
        s.gt_answers = [['two']]
        s.question_types = ['counting']
        s.question_ids = [i]
        samples.append(s)
        det.append(torch.randint(0, 256, (3, det_size, det_size),
                                 generator=g, dtype=torch.uint8))
        enc.append(torch.randint(0, 256, (3, enc_size, enc_size),
                                 generator=g, dtype=torch.uint8))
    return dict(inputs=dict(det=det, enc=enc), data_samples=samples)


def sync(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def timeit(fn, args):
    times = []
    for i in range(args.warmup + args.iters):
        sync(args.device)
        t = time.perf_counter()
        fn()
        sync(args.device)
        if i >= args.warmup:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def count_params(model):
    out = {}
    for name, child in model.named_children():
        if name == 'data_preprocessor':
            continue
        params = list(child.parameters())
        out[name] = (sum(p.numel() for p in params),
                     sum(p.numel() for p in params if p.requires_grad))
    return out


def run_variant(args):
    from mmengine.config import Config

    from mmmrmllm.registry import MODELS
    from mmmrmllm.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(args.config).model
    cfg = copy.deepcopy(cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg)
    cfg['mode'] = args.variant
    cfg.setdefault('class_names', CLASSES)
    if cfg.get('prompt_generator') is not None:
        cfg['prompt_generator']['max_objects'] = args.max_objects
        # Untrained detectors score low: list max_objects objects anyway.
        cfg['prompt_generator']['score_thr'] = 0.0
    torch.manual_seed(0)
    model = MODELS.build(cfg).to(args.device)
    data = make_batch(args.batch_size, args.det_size, args.enc_size)
    optim = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-4)
    res = dict(variant=args.variant, params=count_params(model))

    def train_step():
        model.train()
        batch = model.data_preprocessor(copy.deepcopy(data), True)
        losses = model(**batch, mode='loss')
        loss, _ = model.parse_losses(losses)
        optim.zero_grad()
        loss.backward()
        optim.step()

    def infer():
        model.eval()
        with torch.no_grad():
            batch = model.data_preprocessor(copy.deepcopy(data), False)
            model(**batch, mode='predict')

    res['train_s'] = timeit(train_step, args)
    res['infer_s'] = timeit(infer, args)

    if args.variant == 'joint' and model.detector is not None:
        model.train()
        batch = model.data_preprocessor(copy.deepcopy(data), True)
        with torch.no_grad():
            feats = model.det_adapter.extract(batch['inputs']['det'])

        def detect():
            model._detect(feats, batch['data_samples'])

        res['detect_pass_s'] = timeit(detect, args)
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
        res['prompt_tokens_with'] = statistics.mean(with_p)
        res['prompt_tokens_without'] = statistics.mean(without)
        res['box_tokens'] = statistics.mean(
            len(t) for t in state.llm_box_tokens) \
            if state.llm_box_tokens is not None else 0
        res['soft_tokens'] = model.fusion.num_queries
    if args.device.startswith('cuda'):
        res['peak_mem_mb'] = torch.cuda.max_memory_allocated() / 2**20
    else:
        res['peak_mem_mb'] = resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss / 1024
    print('RESULT ' + json.dumps(res))


def main():
    args = parse_args()
    if args.variant:
        run_variant(args)
        return
    results = {}
    for variant in VARIANTS:
        cmd = [sys.executable, __file__] + sys.argv[1:] + [
            '--variant', variant
        ]
        out = subprocess.run(
            cmd, capture_output=True, text=True, env=dict(os.environ))
        lines = [
            ln for ln in out.stdout.splitlines() if ln.startswith('RESULT')
        ]
        if out.returncode or not lines:
            print(out.stdout[-3000:], out.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f'variant {variant} failed')
        results[variant] = json.loads(lines[-1][len('RESULT '):])
    j, d, m = (results[v] for v in VARIANTS)
    print(f'device: {args.device}, torch threads: {torch.get_num_threads()}'
          f', batch {args.batch_size}, max_objects {args.max_objects}, '
          f'median of {args.iters} after {args.warmup} warm-up')
    print(f'{"":16}{"train step s":>14}{"inference s":>14}{"peak MB":>10}')
    for name, r in zip(VARIANTS, (j, d, m)):
        print(f'{name:16}{r["train_s"]:14.3f}{r["infer_s"]:14.3f}'
              f'{r["peak_mem_mb"]:10.0f}')
    for key, label in (('train_s', 'train'), ('infer_s', 'inference')):
        ratio = j[key] / (d[key] + m[key])
        print(f'ratio joint / (detector + mllm), {label}: {ratio:.3f} '
              '(target <= 1.15)')
    if 'detect_pass_s' in j:
        print(f'no-grad detection pass: {j["detect_pass_s"]:.3f} s '
              f'({100 * j["detect_pass_s"] / j["train_s"]:.1f}% of a joint '
              'train step)')
        print(f'prompt tokens per question: {j["prompt_tokens_without"]:.1f}'
              f' without perception text, {j["prompt_tokens_with"]:.1f} with'
              f' (+{j["prompt_tokens_with"] - j["prompt_tokens_without"]:.1f}'
              f'); plus {j["soft_tokens"]} soft and {j["box_tokens"]:.1f} box'
              ' tokens')
    print('parameters (total / trainable):')
    for name, r in zip(VARIANTS, (j, d, m)):
        parts = ', '.join(f'{k} {t / 1e6:.2f}M/{tr / 1e6:.2f}M'
                          for k, (t, tr) in r['params'].items())
        print(f'  {name}: {parts}')


if __name__ == '__main__':
    main()
