"""PyTorch fp32 reference for bench/native-kernels.ts: the same config-A training step (forward, mean token
cross-entropy, backward over every parameter; no optimizer), median ms of N steps after warm-up.
Measurement only (Debian's python3-torch), never a project dependency:
    python3 bench/pytorch-config-a.py [--arch gpt2|llama] [--threads 2] [--steps 7]
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--arch", default="gpt2", choices=["gpt2", "llama"])
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=7)
p.add_argument("--bf16", action="store_true")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

V, D, L, H, T, B, HID = 512, 128, 4, 4, 128, 16, 512


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.w


def rope(x, cos, sin):
    x1, x2 = x.chunk(2, -1)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)


class Block(nn.Module):
    def __init__(self, llama):
        super().__init__()
        self.llama = llama
        norm = (lambda: RMSNorm(D)) if llama else (lambda: nn.LayerNorm(D))
        self.n1, self.n2 = norm(), norm()
        self.qkv = nn.Linear(D, 3 * D, bias=not llama)
        self.o = nn.Linear(D, D, bias=not llama)
        if llama:
            self.gate = nn.Linear(D, HID, bias=False)
            self.up = nn.Linear(D, HID, bias=False)
            self.down = nn.Linear(HID, D, bias=False)
        else:
            self.fc = nn.Linear(D, HID)
            self.proj = nn.Linear(HID, D)

    def forward(self, x, mask, cos, sin):
        b, t, _ = x.shape
        q, k, v = self.qkv(self.n1(x)).split(D, -1)
        q, k, v = (z.view(b, t, H, D // H).transpose(1, 2) for z in (q, k, v))
        if self.llama:
            q, k = rope(q, cos, sin), rope(k, cos, sin)
        s = q @ k.transpose(-1, -2) / math.sqrt(D // H) + mask
        y = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, D)
        x = x + self.o(y)
        h = self.n2(x)
        if self.llama:
            return x + self.down(F.silu(self.gate(h)) * self.up(h))
        return x + self.proj(F.gelu(self.fc(h), approximate="tanh"))


class Model(nn.Module):
    def __init__(self, llama):
        super().__init__()
        self.llama = llama
        self.wte = nn.Embedding(V, D)
        self.wpe = None if llama else nn.Embedding(T, D)
        self.blocks = nn.ModuleList(Block(llama) for _ in range(L))
        self.nf = RMSNorm(D) if llama else nn.LayerNorm(D)
        half = D // H // 2
        freq = 1.0 / (10000 ** (torch.arange(half) * 2 / (D // H)))
        ang = torch.arange(T)[:, None] * freq[None]
        self.cos, self.sin = ang.cos(), ang.sin()
        self.mask = torch.full((T, T), -1e9).triu(1)

    def forward(self, ids):
        x = self.wte(ids)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(ids.shape[1]))
        for blk in self.blocks:
            x = blk(x, self.mask, self.cos, self.sin)
        return self.nf(x) @ self.wte.weight.t()


m = Model(a.arch == "llama")
ids = torch.randint(0, V, (B, T))
tg = torch.randint(0, V, (B * T,))


def step():
    t0 = time.perf_counter()
    m.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
        logits = m(ids)
    loss = F.cross_entropy(logits.float().view(-1, V), tg)
    loss.backward()
    return (time.perf_counter() - t0) * 1000


for _ in range(3):
    step()
times = [step() for _ in range(a.steps)]
print(
    f"pytorch {torch.__version__} {a.arch} {'bf16' if a.bf16 else 'fp32'} threads={torch.get_num_threads()}: "
    f"median {statistics.median(times):.1f} ms/step ({' '.join(f'{t:.0f}' for t in times)})"
)
