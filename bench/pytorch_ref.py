#!/usr/bin/env python3
"""PyTorch reference for `npm run bench` (src/bench/run.ts): the same configs in plain PyTorch, so the bench can
report our speed as a ratio to it. The models are written out by hand (no transformers, no peft) to do the same
work as ours: GPT-2 blocks (learned positions, LayerNorm, tanh-GELU, tied head, biases), LoRA r8 on the attention
input and output projections, AdamW, global-norm clipping; llama2.c's Llama for stories260K.

Never a project dependency: run.ts calls this only when `python3 -c 'import torch'` works. Shapes mirror
src/bench/configs.ts: change both together.

Prints {"meta": {...}, "entries": [...]} on stdout; progress on stderr.
"""

import argparse
import contextlib
import json
import math
import os
import statistics
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SHAPES = {
    "A": dict(vocab=512, dim=128, layers=4, heads=4, seq=128, batch=16, max_seq=128),
    "B": dict(vocab=50257, dim=768, layers=12, heads=12, seq=256, batch=2, max_seq=1024),
}
TINY_SHAPES = {
    "A": dict(vocab=64, dim=32, layers=2, heads=2, seq=16, batch=2, max_seq=16),
    "B": dict(vocab=96, dim=48, layers=2, heads=4, seq=16, batch=2, max_seq=64),
}
LORA_R, LORA_ALPHA = 8, 16
LR, CLIP, SEED = 1e-3, 1.0, 1234
TRAIN_NAMES = ("A-full", "A-lora", "B-lora")
STORIES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "assets", "models", "stories260K",
                       "stories260K.bin")


def log(msg):
    print(f"[pytorch] {msg}", file=sys.stderr, flush=True)


class LoraLinear(nn.Module):
    """y = base(x) + scaling * (x A) B, base frozen; A ~ U(+-1/sqrt(in)), B = 0 (as src/lora/adapter.ts)."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        bound = 1 / math.sqrt(base.in_features)
        self.a = nn.Parameter(torch.empty(base.in_features, r).uniform_(-bound, bound))
        self.b = nn.Parameter(torch.zeros(r, base.out_features))
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.a @ self.b) * self.scaling


def attend(q, k, v):
    """q (B,H,T,D), k/v (B,H,Tk,D); causal over absolute time (queries are the last T of Tk positions)."""
    t, tk = q.shape[2], k.shape[2]
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    mask = torch.ones(t, tk, dtype=torch.bool).tril(diagonal=tk - t)
    att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
    return att @ v


def cached(cache, k, v):
    if cache is None:
        return k, v
    if "k" in cache:
        k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
    cache["k"], cache["v"] = k, v
    return k, v


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.c_attn = nn.Linear(d, 3 * d)
        self.attn_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.c_fc = nn.Linear(d, 4 * d)
        self.mlp_proj = nn.Linear(4 * d, d)

    def forward(self, x, cache=None):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        k, v = cached(cache, k, v)
        y = attend(q, k, v).transpose(1, 2).reshape(b, t, c)
        x = x + self.attn_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT2(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.wte = nn.Embedding(s["vocab"], s["dim"])
        self.wpe = nn.Embedding(s["max_seq"], s["dim"])
        self.h = nn.ModuleList(Block(s["dim"], s["heads"]) for _ in range(s["layers"]))
        self.ln_f = nn.LayerNorm(s["dim"], eps=1e-5)
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02)  # GPT-2 init, as src/model/params.ts
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, ids, caches=None, last_only=False):
        past = caches[0]["k"].shape[2] if caches and "k" in caches[0] else 0
        pos = torch.arange(past, past + ids.shape[1])
        x = self.wte(ids) + self.wpe(pos)[None]
        for i, blk in enumerate(self.h):
            x = blk(x, None if caches is None else caches[i])
        x = self.ln_f(x)
        if last_only:
            x = x[:, -1:]
        return F.linear(x, self.wte.weight)  # tied head


class Llama2c(nn.Module):
    """llama2.c's model (run.c semantics: interleaved RoPE pairs, GQA, SwiGLU, RMSNorm eps 1e-5)."""

    def __init__(self, path):
        super().__init__()
        with open(path, "rb") as f:
            data = f.read()
        dim, hidden, layers, heads, kv_heads, vocab, seq = struct.unpack("7i", data[:28])
        self.shared, vocab = vocab > 0, abs(vocab)
        self.dim, self.layers, self.heads, self.kv_heads, self.vocab = dim, layers, heads, kv_heads, vocab
        hd = dim // heads
        w = torch.frombuffer(bytearray(data[28:]), dtype=torch.float32)
        off = 0

        def take(*shape):
            nonlocal off
            n = math.prod(shape)
            out = w[off:off + n].view(*shape).clone()
            off += n
            return out

        self.emb = take(vocab, dim)
        self.att_norm = take(layers, dim)
        self.wq, self.wk = take(layers, dim, dim), take(layers, kv_heads * hd, dim)
        self.wv, self.wo = take(layers, kv_heads * hd, dim), take(layers, dim, dim)
        self.ffn_norm = take(layers, dim)
        self.w1, self.w2, self.w3 = take(layers, hidden, dim), take(layers, dim, hidden), take(layers, hidden, dim)
        self.final_norm = take(dim)
        off += seq * hd  # stored freq_cis tables: recomputed below
        self.wcls = self.emb if self.shared else take(vocab, dim)
        freqs = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
        angles = torch.outer(torch.arange(seq).float(), freqs)
        self.cos, self.sin = angles.cos(), angles.sin()

    @staticmethod
    def rmsnorm(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w

    def rope(self, x, pos):
        x = x.view(*x.shape[:-1], -1, 2)
        cos, sin = self.cos[pos][None, :, None], self.sin[pos][None, :, None]
        x0, x1 = x[..., 0], x[..., 1]
        return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1).flatten(-2)

    def forward(self, ids, caches=None, last_only=False):
        b, t = ids.shape
        past = caches[0]["k"].shape[2] if caches and "k" in caches[0] else 0
        pos = torch.arange(past, past + t)
        hd = self.dim // self.heads
        x = self.emb[ids]
        for i in range(self.layers):
            h = self.rmsnorm(x, self.att_norm[i])
            q = self.rope(F.linear(h, self.wq[i]).view(b, t, self.heads, hd), pos).transpose(1, 2)
            k = self.rope(F.linear(h, self.wk[i]).view(b, t, self.kv_heads, hd), pos).transpose(1, 2)
            v = F.linear(h, self.wv[i]).view(b, t, self.kv_heads, hd).transpose(1, 2)
            k, v = cached(None if caches is None else caches[i], k, v)
            rep = self.heads // self.kv_heads
            y = attend(q, k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1))
            x = x + F.linear(y.transpose(1, 2).reshape(b, t, self.dim), self.wo[i])
            h = self.rmsnorm(x, self.ffn_norm[i])
            x = x + F.linear(F.silu(F.linear(h, self.w1[i])) * F.linear(h, self.w3[i]), self.w2[i])
        x = self.rmsnorm(x, self.final_norm)
        if last_only:
            x = x[:, -1:]
        return F.linear(x, self.wcls)


def train_bench(name, shapes, steps, warmup, bf16):
    s = shapes["A" if name.startswith("A") else "B"]
    torch.manual_seed(SEED)
    model = GPT2(s)
    if name.endswith("lora"):
        for p in model.parameters():
            p.requires_grad_(False)
        for blk in model.h:
            blk.c_attn = LoraLinear(blk.c_attn, LORA_R, LORA_ALPHA)
            blk.attn_proj = LoraLinear(blk.attn_proj, LORA_R, LORA_ALPHA)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    ids = torch.randint(s["vocab"], (s["batch"], s["seq"] + 1))
    x, y = ids[:, :-1], ids[:, 1:].reshape(-1)
    amp = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext

    def step():
        t0 = time.perf_counter()
        with amp():
            logits = model(x)
        loss = F.cross_entropy(logits.float().view(-1, s["vocab"]), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP)
        opt.step()
        value = loss.item()
        return (time.perf_counter() - t0) * 1000, value

    tag = f"{name} {'bf16' if bf16 else 'fp32'}"
    for i in range(warmup):
        ms, loss = step()
        log(f"{tag}: warm-up {i + 1}/{warmup} {ms:.0f} ms, loss {loss:.3f}")
    times, losses = [], []
    for i in range(steps):
        ms, loss = step()
        times.append(ms)
        losses.append(loss)
        log(f"{tag}: step {i + 1}/{steps} {ms:.0f} ms, loss {loss:.3f}")
    ms = statistics.median(times)
    return dict(ms_per_step=ms, tokens_per_s=s["batch"] * s["seq"] / (ms / 1000), runs=steps,
                loss_first=losses[0], loss_last=losses[-1])


@torch.no_grad()
def decode(model, prompt, n, use_cache, layers):
    seq = list(prompt)
    caches = [dict() for _ in range(layers)] if use_cache else None
    for i in range(n):
        inp = seq[-1:] if use_cache and i > 0 else seq
        logits = model(torch.tensor([inp]), caches, last_only=True)
        seq.append(int(logits[0, -1].argmax()))
    return seq[len(prompt):]


def gen_bench(name, shapes, tiny, runs):
    if name == "gen-stories260K":
        model = Llama2c(STORIES)
        prompt, n, layers = [1], (8 if tiny else 200), model.layers  # BOS = 1 in llama2.c
    else:
        torch.manual_seed(SEED)
        model = GPT2(shapes["B"]).eval()
        plen, n = (4, 4) if tiny else (16, 50)
        prompt, layers = torch.randint(model.wte.num_embeddings, (plen,)).tolist(), len(model.h)
    use_cache = name != "gen-B-nocache"
    runs = runs if use_cache else 1
    t0 = time.perf_counter()
    decode(model, prompt, min(4, n), use_cache, layers)
    log(f"{name}: warm-up {(time.perf_counter() - t0) * 1000:.0f} ms")
    times, tokens = [], []
    for i in range(runs):
        t0 = time.perf_counter()
        tokens = decode(model, prompt, n, use_cache, layers)
        ms = (time.perf_counter() - t0) * 1000
        times.append(ms)
        log(f"{name}: run {i + 1}/{runs} {ms:.0f} ms ({1000 * n / ms:.1f} tok/s)")
    ms = statistics.median(times)
    return dict(ms_per_step=ms / n, tokens_per_s=1000 * n / ms, runs=runs, new_tokens=n, first_tokens=tokens[:16])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="A-full,A-lora,B-lora,gen-stories260K,gen-B,gen-B-nocache")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--gen-runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tiny", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    shapes = TINY_SHAPES if args.tiny else SHAPES
    entries = []

    def add(name, path, fn):
        try:
            m = fn()
        except Exception as e:  # one failing benchmark must not lose the others' results
            log(f"{name} {path} failed: {e}")
            m = dict(ms_per_step=None, tokens_per_s=None, error=str(e))
        entries.append(dict(name=name, path=path, ratio_to_pytorch_fp32=None, **m))

    for name in args.only.split(","):
        if name in TRAIN_NAMES:
            add(name, "pytorch-fp32", lambda: train_bench(name, shapes, args.steps, args.warmup, False))
            add(name, "pytorch-bf16", lambda: train_bench(name, shapes, args.steps, args.warmup, True))
        elif name.startswith("gen-"):
            add(name, "pytorch-fp32", lambda: gen_bench(name, shapes, args.tiny, args.gen_runs))
        else:
            log(f"unknown benchmark {name}")
    meta = dict(torch=torch.__version__, threads=torch.get_num_threads(), python=sys.version.split()[0],
                mkldnn=torch.backends.mkldnn.is_available())
    json.dump(dict(meta=meta, entries=entries), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
