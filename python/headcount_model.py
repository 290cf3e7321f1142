"""A headcount model in PyTorch: loads what `headcount export --format safetensors` writes and
runs its forward, for every residual scheme and architecture, with the same numbers as
headcount (fp32: within 1e-5, tests/export_test.cpp).

    import headcount_model
    model = headcount_model.load("exported/")          # model.safetensors + config.json
    memory = model.encode(source_ids)                   # [batch, S] int64, 0 = padding
    hidden = model.decode(target_input_ids, memory, source_ids)
    scores = model.logits(hidden)                       # [batch, T, target vocabulary]
    # encoder-only: model.masked_lm_logits(model.encode(ids)), model.classify(model.encode(ids))
    # decoder-only: model.logits(model.decode(ids))

Needs torch and safetensors only. It follows docs/method.md's formulas as headcount's
model/ does, written out in one file: the token ids are those of the run's vocabularies
(source.vocab, target.vocab: one piece per line, line k is id k), which `export` copies
beside the weights with the sentencepiece models that cut text into those pieces. The
forward is inference (no dropout); parameters are leaf tensors that a user may train.
"""
import json
import math
import pathlib

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

FORMAT_VERSION = 1
LAYER_NORM_EPS = 1e-5


class HeadcountModel(torch.nn.Module):
    def __init__(self, config, tensors):
        super().__init__()
        if config.get("format") != "headcount" or config.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"config.json: not a headcount export of format version {FORMAT_VERSION} "
                             f"(format {config.get('format')!r}, version {config.get('format_version')!r})")
        self.config = config
        m = config["model"]
        self.d_model = m["d_model"]
        self.activation = m["activation"]
        self.embedding_norm = m.get("embedding_norm", False)
        self.residual = config["residual"]
        self.padding_index = config["padding_index"]
        self.weights = torch.nn.ParameterDict()
        for name, value in tensors.items():
            self.weights[name.replace(".", "/")] = torch.nn.Parameter(value.float(), requires_grad=False)
        self.tied = config.get("tied", {})
        self.alphas = {}
        if self.residual["weight"] == "constant":
            for stack in ("encoder", "decoder"):
                if f"{stack}_weights" in self.residual:
                    self.alphas[stack] = self.residual[f"{stack}_weights"]

    def w(self, name):
        name = self.tied.get(name, name)
        return self.weights[name.replace(".", "/")]

    def has(self, name):
        return self.tied.get(name, name).replace(".", "/") in self.weights

    # ---- pieces ----
    def layer_norm(self, x, prefix):
        return F.layer_norm(x, (self.d_model,), self.w(prefix + ".weight"), self.w(prefix + ".bias"), LAYER_NORM_EPS)

    def linear(self, x, prefix):
        bias = self.w(prefix + ".bias") if self.has(prefix + ".bias") else None
        return F.linear(x, self.w(prefix + ".weight"), bias)

    def embed(self, table, norm, tokens, offset=0):
        length = tokens.shape[1]
        scale = 1.0 if self.embedding_norm else math.sqrt(self.d_model)
        x = self.w(table)[tokens] * scale
        positions = self.w("learned_positions.weight") if self.has("learned_positions.weight") else self.w(
            "sinusoidal_positions")
        x = x + positions[offset:offset + length]
        if self.embedding_norm:
            x = self.layer_norm(x, norm)
        return x

    @staticmethod
    def split_heads(rows, heads, head_dim):
        batch, length, _ = rows.shape
        return rows.view(batch, length, heads, head_dim).transpose(1, 2)

    def attention(self, prefix, x, memory, bias, heads, head_dim):
        inner = heads * head_dim
        if memory is None:
            qkv = self.linear(x, prefix + ".query_key_value")
            q, k, v = qkv[..., :inner], qkv[..., inner:2 * inner], qkv[..., 2 * inner:]
        else:
            q = self.linear(x, prefix + ".query")
            kv = self.linear(memory, prefix + ".key_value")
            k, v = kv[..., :inner], kv[..., inner:]
        q, k, v = (self.split_heads(t, heads, head_dim) for t in (q, k, v))
        scores = (q / math.sqrt(head_dim)) @ k.transpose(-1, -2)
        if bias is not None:
            scores = scores + bias
        context = torch.softmax(scores, dim=-1) @ v
        context = context.transpose(1, 2).reshape(x.shape[0], x.shape[1], inner)
        return self.linear(context, prefix + ".output")

    def feed_forward(self, prefix, x):
        h = self.linear(x, prefix + ".expand")
        h = torch.relu(h) if self.activation == "relu" else F.gelu(h)
        return self.linear(h, prefix + ".contract")

    def residual_step(self, prefix, stack, index, x, sublayer):
        """docs/method.md: the sub-layer reads LN(x) or x; the sum is w * x + f (w learned,
        alpha constant or 1) and is normalised or not, as the scheme says."""
        r = self.residual
        f = sublayer(self.layer_norm(x, prefix + ".norm") if r["normalizes_input"] else x)
        if r["weight"] == "learned":
            s = self.w(prefix + ".admin_scale") * x + f
        elif r["weight"] == "constant":
            s = self.alphas[stack][index] * x + f
        else:
            s = x + f
        return self.layer_norm(s, prefix + ".norm") if r["normalizes_sum"] else s

    def stack(self, name, x, self_bias, memory=None, memory_bias=None):
        config = self.config["model"][name]
        heads = config["heads"]
        head_dim = config["head_dim"] or self.d_model // heads
        index = 0
        for i in range(config["layers"]):
            p = f"{name}.layer{i}."
            x = self.residual_step(p + "self_attention_residual", name, index, x,
                                   lambda h: self.attention(p + "self_attention", h, None, self_bias, heads, head_dim))
            index += 1
            if memory is not None:
                x = self.residual_step(p + "cross_attention_residual", name, index, x,
                                       lambda h: self.attention(p + "cross_attention", h, memory, memory_bias, heads,
                                                                head_dim))
                index += 1
            x = self.residual_step(p + "feed_forward_residual", name, index, x,
                                   lambda h: self.feed_forward(p + "feed_forward", h))
            index += 1
        if self.residual["final_norm"]:
            x = self.layer_norm(x, name + ".final_norm")
        return x

    def padding_bias(self, tokens):
        bias = torch.zeros(tokens.shape, dtype=torch.float32, device=tokens.device)
        return bias.masked_fill(tokens.eq(self.padding_index), float("-inf"))[:, None, None, :]

    # ---- the model ----
    def encode(self, source):
        """source: [batch, S] int64 -> [batch, S, d]."""
        x = self.embed("source_embedding.weight", "source_embedding_norm", source)
        return self.stack("encoder", x, self.padding_bias(source))

    def decode(self, target_input, memory=None, source=None):
        """target_input: [batch, T] int64 (shifted right); memory, source: the encoder's output and
        its tokens (None for a decoder-only model) -> [batch, T, d]."""
        length = target_input.shape[1]
        causal = torch.full((length, length), float("-inf"), device=target_input.device).triu(1)
        self_bias = self.padding_bias(target_input) + causal
        memory_bias = self.padding_bias(source) if memory is not None else None
        x = self.embed("target_embedding.weight", "target_embedding_norm", target_input)
        return self.stack("decoder", x, self_bias, memory, memory_bias)

    def logits(self, hidden):
        """Hidden states [..., d] -> scores over the output vocabulary."""
        return F.linear(hidden, self.w("output_weight"))

    def masked_lm_logits(self, hidden):
        """The masked-LM head at every position: [batch, T, d] -> [batch, T, vocabulary]."""
        h = self.layer_norm(F.gelu(self.linear(hidden, "masked_lm_head.dense")), "masked_lm_head.norm")
        return F.linear(h, self.w("output_weight"), self.w("masked_lm_head.bias"))

    def classify(self, hidden):
        """The classification head on the first position: [batch, T, d] -> [batch, classes]."""
        pooled = torch.tanh(self.linear(hidden[:, 0], "classification_head.dense"))
        return self.linear(pooled, "classification_head.output")

    def forward(self, source=None, target_input=None):
        """The model's scores: translation logits (both given), a decoder-only model's logits
        (target_input), or an encoder's head on source (masked-LM or classification)."""
        architecture = self.config["model"]["architecture"]
        if architecture == "encoder-decoder":
            return self.logits(self.decode(target_input, self.encode(source), source))
        if architecture == "decoder":
            return self.logits(self.decode(target_input))
        hidden = self.encode(source)
        head = self.config["model"]["head"]
        if head == "masked-lm":
            return self.masked_lm_logits(hidden)
        if head == "classification":
            return self.classify(hidden)
        return hidden


def load(folder, device="cpu"):
    """The model exported into folder (model.safetensors, config.json), in eval mode."""
    folder = pathlib.Path(folder)
    config = json.loads((folder / "config.json").read_text())
    model = HeadcountModel(config, load_file(str(folder / "model.safetensors")))
    return model.to(device).eval()
