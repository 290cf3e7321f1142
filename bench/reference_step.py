"""The PyTorch-eager (Python) reference training step that `headcount bench --reference`
and docs/benchmarks.md compare headcount against: what a user would write instead. An
encoder-decoder Transformer with Post-LN residuals, H heads of width dh per layer, random
tokens of a fixed shape, Adam, label-smoothed cross-entropy; two warm-up updates, then the
mean of STEPS.

usage: /usr/bin/python3 bench/reference_step.py ENC_LAYERS DEC_LAYERS HEADS D_MODEL HEAD_DIM FFN
           BATCH SRC_LEN TGT_LEN STEPS THREADS [DEVICE [PRECISION]]
  DEVICE: cpu (default), cuda, cuda:N; PRECISION: fp32 (default), bf16, fp16 (autocast
  around forward and loss, fp32 weights; fp16 with a gradient scaler)
prints: params=<N> step_ms=<ms per update> tokens_per_s=<target tokens a second>
"""
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, d, heads, head_dim):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        inner = heads * head_dim
        self.q, self.k, self.v = nn.Linear(d, inner), nn.Linear(d, inner), nn.Linear(d, inner)
        self.o = nn.Linear(inner, d)

    def forward(self, x, memory, causal):
        b, t, _ = x.shape
        s = memory.shape[1]
        q = self.q(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k(memory).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        v = self.v(memory).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        if causal:
            scores = scores.masked_fill(torch.ones(t, s, dtype=torch.bool, device=x.device).triu(1), float("-inf"))
        return self.o((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, self.heads * self.head_dim))


class Layer(nn.Module):
    """One Post-LN layer: x = LN(x + dropout(f(x))) around each sub-layer."""

    def __init__(self, d, heads, head_dim, ffn, decoder):
        super().__init__()
        self.decoder = decoder
        self.self_attention, self.norm1 = Attention(d, heads, head_dim), nn.LayerNorm(d)
        if decoder:
            self.cross_attention, self.norm2 = Attention(d, heads, head_dim), nn.LayerNorm(d)
        self.expand, self.contract, self.norm3 = nn.Linear(d, ffn), nn.Linear(ffn, d), nn.LayerNorm(d)

    def forward(self, x, memory=None):
        x = self.norm1(x + F.dropout(self.self_attention(x, x, self.decoder), 0.1, self.training))
        if self.decoder:
            x = self.norm2(x + F.dropout(self.cross_attention(x, memory, False), 0.1, self.training))
        return self.norm3(x + F.dropout(self.contract(F.relu(self.expand(x))), 0.1, self.training))


def main():
    encoder_layers, decoder_layers, heads, d, head_dim, ffn, batch, source_length, target_length, steps, threads = map(
        int, sys.argv[1:12])
    device = torch.device(sys.argv[12] if len(sys.argv) > 12 else "cpu")
    precision = sys.argv[13] if len(sys.argv) > 13 else "fp32"
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    vocabulary = 100
    embedding, output = nn.Embedding(vocabulary, d), nn.Linear(d, vocabulary)
    encoder = nn.ModuleList([Layer(d, heads, head_dim, ffn, False) for _ in range(encoder_layers)])
    decoder = nn.ModuleList([Layer(d, heads, head_dim, ffn, True) for _ in range(decoder_layers)])
    modules = nn.ModuleList([embedding, output, encoder, decoder]).to(device)
    parameters = list(modules.parameters())
    optimizer = torch.optim.Adam(parameters, lr=1e-4)
    source = torch.randint(0, vocabulary, (batch, source_length), device=device)
    target = torch.randint(0, vocabulary, (batch, target_length), device=device)
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    scaler = torch.cuda.amp.GradScaler() if precision == "fp16" else None

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            x = embedding(source)
            for layer in encoder:
                x = layer(x)
            y = embedding(target)
            for layer in decoder:
                y = layer(y, x)
            loss = F.cross_entropy(output(y).float().view(-1, vocabulary), target.view(-1), label_smoothing=0.1)
        optimizer.zero_grad()
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    step(), step()
    synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize()
    seconds = time.perf_counter() - start
    print(f"params={sum(p.numel() for p in parameters)} step_ms={1000 * seconds / steps:.4f} "
          f"tokens_per_s={batch * target_length * steps / seconds:.0f}")


if __name__ == "__main__":
    main()
