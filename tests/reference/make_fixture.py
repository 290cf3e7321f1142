"""Writes tests/reference/seq2seq_fixture.json.gz: what PyTorch computes for a tiny
encoder-decoder Transformer written here from the formulas of docs/method.md, with fixed
weights and padded inputs, for the residual schemes post-ln, pre-ln, admin (with given w)
and deepnorm: the logits, the label-smoothed loss, and every parameter's gradient, all in
double precision. tests/reference_test.cpp checks headcount's forward and backward against
it, the way llm.c pins its C model to PyTorch's numbers.

Nothing here imports headcount; only the parameter names and the weight formula are shared
with the test, so that the same weights can be loaded on both sides.

usage: /usr/bin/python3 tests/reference/make_fixture.py   (Debian 12's python3-torch)
"""
import gzip
import json
import math
import os

import torch
import torch.nn.functional as F

D_MODEL, HEADS, FFN = 8, 2, 12
HEAD_DIM = D_MODEL // HEADS
ENCODER_LAYERS, DECODER_LAYERS = 2, 2
SOURCE_VOCAB, TARGET_VOCAB = 11, 13
MAX_POSITIONS = 16
LABEL_SMOOTHING = 0.1
# Two sentences with EOS (2) and padding (0); the decoder reads BOS (1) + tokens.
SOURCE = [[5, 6, 7, 8, 2], [9, 4, 2, 0, 0]]
TARGET_INPUT = [[1, 4, 5, 6], [1, 7, 0, 0]]
TARGET_OUTPUT = [[4, 5, 6, 2], [7, 2, 0, 0]]


def phase(name):
    """A number in [0, 2 pi) from a parameter's name (the test computes the same)."""
    return sum((k + 1) * ord(c) for k, c in enumerate(name)) % 997 / 997 * 2 * math.pi


def fixed_weight(name, shape):
    """The fixed weights: smooth, different in every entry and every tensor. LayerNorm gains
    and Admin's w sit around 1; embedding row 0 (padding) is zero, as headcount makes it."""
    n = math.prod(shape)
    i = torch.arange(n, dtype=torch.double)
    wave = torch.sin(0.731 * i + phase(name))
    if name.endswith("norm.weight"):
        values = 1.0 + 0.2 * wave
    elif name.endswith("admin_scale"):
        values = 1.5 + 0.3 * wave
    else:
        values = 0.5 * wave
    values = values.reshape(shape)
    if name.endswith("embedding.weight"):
        values[0] = 0
    return values.clone().requires_grad_(True)


class Model:
    def __init__(self, scheme):
        self.scheme = scheme
        self.p = {}
        inner = HEADS * HEAD_DIM

        def add(name, *shape):
            self.p[name] = fixed_weight(name, shape)

        def linear(name, out, inp):
            add(name + ".weight", out, inp)
            add(name + ".bias", out)

        def residual(name):
            add(name + ".norm.weight", D_MODEL)
            add(name + ".norm.bias", D_MODEL)
            if scheme == "admin":
                add(name + ".admin_scale", D_MODEL)

        add("source_embedding.weight", SOURCE_VOCAB, D_MODEL)
        add("target_embedding.weight", TARGET_VOCAB, D_MODEL)
        for stack, layers, cross in (("encoder", ENCODER_LAYERS, False), ("decoder", DECODER_LAYERS, True)):
            for i in range(layers):
                prefix = f"{stack}.layer{i}."
                linear(prefix + "self_attention.query_key_value", 3 * inner, D_MODEL)
                linear(prefix + "self_attention.output", D_MODEL, inner)
                residual(prefix + "self_attention_residual")
                if cross:
                    linear(prefix + "cross_attention.query", inner, D_MODEL)
                    linear(prefix + "cross_attention.key_value", 2 * inner, D_MODEL)
                    linear(prefix + "cross_attention.output", D_MODEL, inner)
                    residual(prefix + "cross_attention_residual")
                linear(prefix + "feed_forward.expand", FFN, D_MODEL)
                linear(prefix + "feed_forward.contract", D_MODEL, FFN)
                residual(prefix + "feed_forward_residual")
            if scheme == "pre-ln":
                add(stack + ".final_norm.weight", D_MODEL)
                add(stack + ".final_norm.bias", D_MODEL)

    # DeepNet (Wang et al. 2022), encoder-decoder with N encoder and M decoder layers.
    def alpha(self, stack):
        n, m = ENCODER_LAYERS, DECODER_LAYERS
        return 0.81 * (n ** 4 * m) ** (1 / 16) if stack == "encoder" else (3 * m) ** 0.25

    def linear(self, name, x):
        return F.linear(x, self.p[name + ".weight"], self.p[name + ".bias"])

    def layer_norm(self, name, x):
        return F.layer_norm(x, (D_MODEL,), self.p[name + ".weight"], self.p[name + ".bias"], eps=1e-5)

    def attention(self, q, k, v, mask):
        """softmax(q k^T / sqrt(dh) + mask) v per head; heads side by side in the columns."""
        b, t, _ = q.shape
        s = k.shape[1]
        q = q.view(b, t, HEADS, HEAD_DIM).transpose(1, 2)
        k = k.view(b, s, HEADS, HEAD_DIM).transpose(1, 2)
        v = v.view(b, s, HEADS, HEAD_DIM).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(HEAD_DIM) + mask
        return (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, HEADS * HEAD_DIM)

    def self_attention(self, name, x, mask):
        inner = HEADS * HEAD_DIM
        qkv = self.linear(name + ".query_key_value", x)
        context = self.attention(qkv[..., :inner], qkv[..., inner:2 * inner], qkv[..., 2 * inner:], mask)
        return self.linear(name + ".output", context)

    def cross_attention(self, name, x, memory, mask):
        inner = HEADS * HEAD_DIM
        q = self.linear(name + ".query", x)
        kv = self.linear(name + ".key_value", memory)
        return self.linear(name + ".output", self.attention(q, kv[..., :inner], kv[..., inner:], mask))

    def feed_forward(self, name, x):
        return self.linear(name + ".contract", F.relu(self.linear(name + ".expand", x)))

    def residual(self, name, stack, x, sublayer):
        """The four schemes' residual steps as docs/method.md writes them."""
        if self.scheme == "pre-ln":
            return x + sublayer(self.layer_norm(name + ".norm", x))
        if self.scheme == "post-ln":
            total = x + sublayer(x)
        elif self.scheme == "admin":
            total = self.p[name + ".admin_scale"] * x + sublayer(x)
        elif self.scheme == "deepnorm":
            total = self.alpha(stack) * x + sublayer(x)
        return self.layer_norm(name + ".norm", total)

    def embed(self, table, tokens):
        half = D_MODEL // 2
        position = torch.arange(MAX_POSITIONS, dtype=torch.double).unsqueeze(1)
        frequency = torch.exp(torch.arange(half, dtype=torch.double) * -(math.log(10000.0) / max(half - 1, 1)))
        angles = position * frequency.unsqueeze(0)
        # fairseq's layout (sines, then cosines); the table is stored in float32, as fairseq's is.
        sinusoids = torch.cat([torch.sin(angles), torch.cos(angles)], 1).float().double()
        x = F.embedding(tokens, self.p[table], padding_idx=0) * math.sqrt(D_MODEL)
        return x + sinusoids[: tokens.shape[1]]

    def forward(self, source, target_input):
        negative = float("-inf")
        source_mask = torch.zeros(source.shape, dtype=torch.double).masked_fill(source == 0, negative)[:, None, None, :]
        x = self.embed("source_embedding.weight", source)
        for i in range(ENCODER_LAYERS):
            p = f"encoder.layer{i}."
            x = self.residual(p + "self_attention_residual", "encoder", x,
                              lambda h: self.self_attention(p + "self_attention", h, source_mask))
            x = self.residual(p + "feed_forward_residual", "encoder", x, lambda h: self.feed_forward(p + "feed_forward", h))
        if self.scheme == "pre-ln":
            x = self.layer_norm("encoder.final_norm", x)
        memory = x
        t = target_input.shape[1]
        causal = torch.full((t, t), negative, dtype=torch.double).triu(1)
        target_mask = torch.zeros(target_input.shape, dtype=torch.double).masked_fill(target_input == 0, negative)
        self_mask = target_mask[:, None, None, :] + causal
        y = self.embed("target_embedding.weight", target_input)
        for i in range(DECODER_LAYERS):
            p = f"decoder.layer{i}."
            y = self.residual(p + "self_attention_residual", "decoder", y,
                              lambda h: self.self_attention(p + "self_attention", h, self_mask))
            y = self.residual(p + "cross_attention_residual", "decoder", y,
                              lambda h: self.cross_attention(p + "cross_attention", h, memory, source_mask))
            y = self.residual(p + "feed_forward_residual", "decoder", y, lambda h: self.feed_forward(p + "feed_forward", h))
        if self.scheme == "pre-ln":
            y = self.layer_norm("decoder.final_norm", y)
        return y @ self.p["target_embedding.weight"].t()  # the output projection tied to the target embedding


def label_smoothed_loss(logits, target, epsilon):
    """fairseq's label-smoothed cross-entropy: the target gets 1 - epsilon, every other token
    epsilon / (V - 1); mean over real (non-padding) target tokens."""
    vocabulary = logits.shape[-1]
    log_probabilities = logits.log_softmax(-1).reshape(-1, vocabulary)
    flat = target.reshape(-1)
    real = flat != 0
    nll = -log_probabilities.gather(1, flat.unsqueeze(1)).squeeze(1)
    smooth = -log_probabilities.sum(1)
    others = epsilon / (vocabulary - 1)
    per_token = (1 - epsilon - others) * nll + others * smooth
    return per_token[real].sum() / real.sum()


def main():
    source, target_input, target_output = (torch.tensor(t) for t in (SOURCE, TARGET_INPUT, TARGET_OUTPUT))
    fixture = {
        "model": {"d_model": D_MODEL, "heads": HEADS, "ffn_dim": FFN, "encoder_layers": ENCODER_LAYERS,
                  "decoder_layers": DECODER_LAYERS, "source_vocab_size": SOURCE_VOCAB,
                  "target_vocab_size": TARGET_VOCAB, "max_positions": MAX_POSITIONS},
        "label_smoothing": LABEL_SMOOTHING,
        "source": SOURCE, "target_input": TARGET_INPUT, "target_output": TARGET_OUTPUT,
        "made_by": "tests/reference/make_fixture.py with torch " + torch.__version__,
        "schemes": {},
    }
    for scheme in ("post-ln", "pre-ln", "admin", "deepnorm"):
        model = Model(scheme)
        logits = model.forward(source, target_input)
        loss = label_smoothed_loss(logits, target_output, LABEL_SMOOTHING)
        loss.backward()
        fixture["schemes"][scheme] = {
            "logits": [float(f"{v:.15g}") for v in logits.detach().reshape(-1).tolist()],
            "loss": loss.item(),
            "gradients": {name: [float(f"{v:.13g}") for v in p.grad.reshape(-1).tolist()]
                          for name, p in sorted(model.p.items())},
        }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seq2seq_fixture.json.gz")
    with gzip.GzipFile(path, "wb", mtime=0) as out:
        out.write(json.dumps(fixture, separators=(",", ":")).encode())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
