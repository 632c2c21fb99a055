"""The paper-scale architecture on one GPU: step time and peak memory.

    python tools/analysis_tools/gpu_check.py [--out gpu_check.json]
        [--plan plan.json] [--steps 4] [--batch 2] [--smoke]

Pure torch (no OpenMMLab, no transformers, no downloads: a GPU machine may
have only torch), random weights. Stand-ins of the paper's parts with
their shapes: a Vicuna-7B-shaped LLM (32 x 4096, SwiGLU 11008, vocab
32001; frozen, bf16), an EVA-ViT-g/14-shaped tower (39 x 1408, 224 px;
frozen, fp32), a 12-layer 768-d Q-Former-shaped fusion with 32 queries and a
DINO-R50-shaped detector (ResNet-50 + 6 encoder / 6 decoder layers of
256-d, 900 queries; dense attention over the stride-32 map stands in for
deformable attention). The trained parts (fusion, detector, projection)
take AdamW steps under bf16 autocast; the LM loss reaches the fusion
through the frozen LLM. ``--smoke``: tiny sizes on the CPU (the suite).
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F
from torch import nn

PAPER = dict(llm=(32, 4096, 11008, 32, 32001), vit=(39, 1408, 6144, 16, 224),
             fusion=(12, 768, 3072, 12, 32), det=(6, 256, 2048, 8, 900),
             det_size=(800, 1333), seq=256, res_width=64)
SMOKE = dict(llm=(2, 64, 128, 4, 100), vit=(2, 32, 64, 4, 28),
             fusion=(2, 32, 64, 4, 4), det=(1, 32, 64, 4, 10),
             det_size=(64, 96), seq=16, res_width=8)


class Block(nn.Module):
    """Pre-norm transformer block (optionally with cross-attention)."""

    def __init__(self, dim, ffn, heads, cross=False, swiglu=False):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.cross = nn.MultiheadAttention(
            dim, heads, batch_first=True) if cross else None
        self.up = nn.Linear(dim, ffn * (2 if swiglu else 1), bias=False)
        self.down = nn.Linear(ffn, dim, bias=False)
        self.swiglu = swiglu

    def forward(self, x, memory=None, causal=False):
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads,
                                               -1).unbind(2)
        att = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
            is_causal=causal)
        x = x + self.proj(att.transpose(1, 2).reshape(b, n, d))
        if self.cross is not None and memory is not None:
            x = x + self.cross(x, memory, memory, need_weights=False)[0]
        h = self.up(self.norm2(x))
        h = F.silu(h[..., :h.shape[-1] // 2]) * h[..., h.shape[-1] // 2:] \
            if self.swiglu else F.gelu(h)
        return x + self.down(h)


def resnet50(width):
    """ResNet-50's layout (3-4-6-3 bottlenecks) at base width ``width``."""
    layers, cin = [nn.Conv2d(3, width, 7, 2, 3), nn.MaxPool2d(3, 2, 1)], width
    for i, n in enumerate((3, 4, 6, 3)):
        mid = width * 2**i
        for j in range(n):
            stride = 2 if j == 0 and i > 0 else 1
            layers.append(Bottleneck(cin, mid, stride))
            cin = mid * 4
    return nn.Sequential(*layers), cin


class Bottleneck(nn.Module):

    def __init__(self, cin, mid, stride):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, mid, 1), nn.BatchNorm2d(mid), nn.ReLU(),
            nn.Conv2d(mid, mid, 3, stride, 1), nn.BatchNorm2d(mid), nn.ReLU(),
            nn.Conv2d(mid, mid * 4, 1), nn.BatchNorm2d(mid * 4))
        self.skip = nn.Conv2d(cin, mid * 4, 1, stride)

    def forward(self, x):
        return F.relu(self.body(x) + self.skip(x))


class StandIn(nn.Module):
    """Detector, vision tower, fusion and LLM wired as in MR-MLLM."""

    def __init__(self, s):
        super().__init__()
        depth, dim, ffn, heads, vocab = s['llm']
        self.llm = nn.ModuleList(
            Block(dim, ffn, heads, swiglu=True) for _ in range(depth))
        self.embed, self.head = nn.Embedding(vocab, dim), nn.Linear(
            dim, vocab, bias=False)
        vd, vdim, vffn, vheads, self.img = s['vit']
        self.patch = nn.Conv2d(3, vdim, 14 if self.img >= 224 else 7,
                               14 if self.img >= 224 else 7)
        self.vit = nn.ModuleList(
            Block(vdim, vffn, vheads) for _ in range(vd))
        fd, fdim, fffn, fheads, nq = s['fusion']
        self.queries = nn.Parameter(torch.zeros(1, nq, fdim))
        self.vis_in = nn.Linear(vdim, fdim)
        self.fusion = nn.ModuleList(
            Block(fdim, fffn, fheads, cross=True) for _ in range(fd))
        self.to_llm = nn.Linear(fdim, dim)
        dd, ddim, dffn, dheads, dq = s['det']
        self.backbone, cout = resnet50(s['res_width'])
        self.det_in = nn.Conv2d(cout, ddim, 1)
        self.det_q = nn.Parameter(torch.zeros(1, dq, ddim))
        self.enc = nn.ModuleList(Block(ddim, dffn, dheads) for _ in range(dd))
        self.dec = nn.ModuleList(
            Block(ddim, dffn, dheads, cross=True) for _ in range(dd))
        self.det_to_fusion = nn.Linear(ddim, fdim)
        self.box = nn.Linear(ddim, 4 + 91)

    def frozen(self):
        """The frozen parts: the LLM (bf16, as the config's torch_dtype)
        and the vision tower (fp32, as the config)."""
        return [self.llm, self.embed, self.head], [self.patch, self.vit]

    def forward(self, det_img, enc_img, ids):
        feats = self.det_in(self.backbone(det_img)).flatten(2).transpose(1, 2)
        for blk in self.enc:
            feats = blk(feats)
        q = self.det_q.expand(len(det_img), -1, -1)
        for blk in self.dec:
            q = blk(q, feats)
        det_loss = self.box(q).float().pow(2).mean()
        vis = self.patch(enc_img).flatten(2).transpose(1, 2)
        for blk in self.vit:
            vis = blk(vis)
        memory = torch.cat([self.vis_in(vis), self.det_to_fusion(feats)], 1)
        shared = self.queries.expand(len(det_img), -1, -1)
        for blk in self.fusion:
            shared = blk(shared, memory)
        x = torch.cat([self.to_llm(shared), self.embed(ids)], 1)
        for blk in self.llm:
            x = blk(x, causal=True)
        logits = self.head(x[:, -ids.shape[1]:]).float()
        lm_loss = F.cross_entropy(logits[:, :-1].flatten(0, 1),
                                  ids[:, 1:].flatten())
        return det_loss + lm_loss


def run(args) -> dict:
    s = SMOKE if args.smoke else PAPER
    dev = torch.device('cuda' if torch.cuda.is_available() and
                       not args.smoke else 'cpu')
    torch.manual_seed(0)
    with torch.device(dev):  # 7B random weights: made on the GPU
        model = StandIn(s)
    low, full = model.frozen()
    for part in low + full:
        part.requires_grad_(False)
    for part in low:
        part.to(torch.bfloat16)
    trained = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(trained, lr=1e-4)
    b, (h, w) = args.batch, s['det_size']
    det_img = torch.randn(b, 3, h, w, device=dev)
    enc_img = torch.randn(b, 3, model.img, model.img, device=dev)
    ids = torch.randint(0, s['llm'][4], (b, s['seq']), device=dev)
    times = []
    for _ in range(args.steps):
        if dev.type == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            loss = model(det_img, enc_img, ids)
        loss.backward()
        optim.step()
        optim.zero_grad(set_to_none=True)
        if dev.type == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    count = sum(p.numel() for p in model.parameters())
    result = dict(
        device=torch.cuda.get_device_name() if dev.type == 'cuda' else 'cpu',
        torch=torch.__version__, smoke=args.smoke, batch=b,
        params=count, trained_params=sum(p.numel() for p in trained),
        step_times_s=times, loss=float(loss.detach()),
        # the first step includes allocation and kernel selection
        step_time_s=min(times[1:] or times),
        peak_memory_bytes=torch.cuda.max_memory_allocated()
        if dev.type == 'cuda' else None)
    if args.plan:
        with open(args.plan) as f:
            plan = json.load(f)
        result['plan_prediction_bytes'] = plan.get('total_per_gpu_bytes')
        result['plan'] = {k: plan.get(k) for k in ('config', 'strategy',
                                                   'gpus', 'batch')}
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='gpu_check.json')
    parser.add_argument('--plan', help='memory_plan.py --json output')
    parser.add_argument('--steps', type=int, default=4)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--smoke', action='store_true')
    args = parser.parse_args(argv)
    result = run(args)
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == '__main__':
    main()
