"""Checks an exported headcount model against outside readers (tests/export_test.cpp runs it).

  check_export.py loader EXPORT EXPECTED [EXPORT EXPECTED ...]
        python/headcount_model.py on each EXPORT's safetensors
  check_export.py hf EXPORT EXPECTED [EXPORT EXPECTED ...]
        transformers' from_pretrained on each EXPORT (--format hf)
  check_export.py roundtrip IN OUT
        safetensors' own reader on IN (headcount's writer), its own writer to OUT (headcount's
        reader checks it)

EXPECTED is a safetensors file headcount wrote: the inputs ("source", "target_input"), the
scores headcount computed ("output") and in its metadata what they are ("kind": seq2seq,
decoder, masked-lm, classification) and the tolerance. Prints one line per pair, "EXPORT:
max_abs_diff X over N values (tolerance T) ok|FAILED", and exits 1 when any X is above its
tolerance, 2 when a package is missing (the test then skips). Several pairs in one process:
importing torch and transformers costs seconds.
"""
import pathlib
import sys

try:
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file
except ImportError as e:
    print(f"missing Python package: {e.name}")
    sys.exit(2)


def compare(name, got, expected, mask, tolerance):
    got, expected = got.double(), expected.double()
    if got.shape != expected.shape:
        print(f"{name}: shape {tuple(got.shape)} != expected {tuple(expected.shape)} FAILED")
        return 1
    if mask is not None:
        got, expected = got[mask], expected[mask]
    diff = (got - expected).abs().max().item()
    verdict = "ok" if diff <= tolerance else "FAILED"
    print(f"{name}: max_abs_diff {diff:.3g} over {expected.numel()} values (tolerance {tolerance:g}) {verdict}")
    return 0 if diff <= tolerance else 1


def main():
    mode = sys.argv[1]
    if mode == "roundtrip":
        first, second = pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
        tensors = load_file(str(first))
        with safe_open(str(first), framework="pt") as f:
            metadata = f.metadata()
        save_file(tensors, str(second), metadata=metadata)
        print(f"read {len(tensors)} tensors and {len(metadata or {})} metadata entries")
        return 0
    pairs = sys.argv[2:]
    status = 0
    for k in range(0, len(pairs), 2):
        status = max(status, check(mode, pathlib.Path(pairs[k]), pathlib.Path(pairs[k + 1])))
    return status


def check(mode, first, second):
    expected = load_file(str(second))
    with safe_open(str(second), framework="pt") as f:
        info = f.metadata()
    kind, tolerance = info["kind"], float(info["tolerance"])
    source, target = expected.get("source"), expected.get("target_input")
    torch.set_grad_enabled(False)
    if mode == "loader":
        loader = str(pathlib.Path(__file__).resolve().parents[2] / "python")
        if loader not in sys.path:
            sys.path.insert(0, loader)
        import headcount_model
        model = headcount_model.load(first)
        if kind == "seq2seq":
            got = model.logits(model.decode(target, model.encode(source), source))
        elif kind == "decoder":
            got = model.logits(model.decode(target))
        elif kind == "masked-lm":
            got = model.masked_lm_logits(model.encode(source))
        elif kind == "classification":
            got = model.classify(model.encode(source))
        else:
            got = model.encode(source)
    elif mode == "hf":
        try:
            import transformers
        except ImportError as e:
            print(f"missing Python package: {e.name}")
            return 2
        transformers.logging.set_verbosity_error()
        auto = (transformers.AutoModelForMaskedLM
                if kind == "masked-lm" else transformers.AutoModelForSequenceClassification)
        model = auto.from_pretrained(str(first)).eval()
        got = model(input_ids=source, attention_mask=source.ne(0).long()).logits
    else:
        print(f"unknown mode {mode}")
        return 2
    ids = target if kind in ("seq2seq", "decoder") else source
    mask = None if kind == "classification" else ids.ne(0)
    return compare(str(first), got, expected["output"], mask, tolerance)


if __name__ == "__main__":
    sys.exit(main())
