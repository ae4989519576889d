"""Benchmark: TransformersModel.agenerate against raw ``model.generate``, same model, same tokens.

A GPT-2 with random weights and a byte-level BPE tokenizer is built and saved
locally (nothing is downloaded). One loaded model serves every variant, and
the variants take turns in each round, so they see the same machine state:

* ``generate``: ``model.generate`` on the rendered prompt (the reference);
* ``generate_stop_strings``: the same with ``stop_strings=[...]``, which
  rebuilds transformers' StopStringCriteria on every call (TransformersModel
  builds that criterion once and reuses it);
* ``agenerate``: ``TransformersModel.agenerate(messages, stop=[...])``, the
  path an agent takes (prompt rendering, worker thread, decoding, stop cut);
* ``old_criterion``: ``model.generate`` with the hand-written stopping
  criterion TransformersModel used before (it decoded the token window at
  every step), kept here as the "before" figure.

``min_new_tokens == max_new_tokens``, so every variant generates the same
number of tokens (reported, and checked). Prints a table and one JSON line.

Run on this machine's CPU (a tiny model): ``.venv/bin/python bench/bench_transformers.py``.
On a CUDA machine (a ~150M-parameter model in bf16, 256 new tokens):
``bash bench/gpu_check.sh`` (which runs this file with ``--gpu``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the checkout's smolkernel, installed or not

MESSAGES = [{"role": "system", "content": "You are a helpful agent. Think, then write code."}, {"role": "user", "content": "New task:\nWhat is two plus three? Use Python."}]
STOP = ["Observation:"]  # what CodeAgent passes
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
PRESETS = {
    "cpu": {"device": "cpu", "dtype": None, "n_embd": 64, "n_layer": 2, "n_head": 2, "pair_chars": 40, "new_tokens": 64, "repeats": 9, "old_repeats": 9},
    "gpu": {"device": "cuda", "dtype": "bfloat16", "n_embd": 768, "n_layer": 16, "n_head": 12, "pair_chars": 223, "new_tokens": 256, "repeats": 5, "old_repeats": 3},
}


def make_tokenizer(pair_chars: int) -> Any:
    """A byte-level BPE tokenizer: 256 byte tokens, ``pair_chars**2`` two-character tokens, an end token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    alphabet = sorted(alphabet)
    pairs = [(a, b) for a in alphabet[:pair_chars] for b in alphabet[:pair_chars]]
    vocab = {char: index for index, char in enumerate(alphabet)}
    for a, b in pairs:
        vocab[a + b] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=pairs))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens(["<|endoftext|>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|endoftext|>", bos_token="<|endoftext|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = TEMPLATE
    return tokenizer


def build_model(directory: Path, *, n_embd: int, n_layer: int, n_head: int, pair_chars: int, dtype: str | None, device: str, **_: Any) -> int:
    """Save a random GPT-2 and its tokenizer in ``directory``; return its parameter count."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = make_tokenizer(pair_chars)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=1024, n_embd=n_embd, n_layer=n_layer, n_head=n_head, eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id)
    torch.manual_seed(0)
    with torch.device(device):
        model = GPT2LMHeadModel(config)
    if dtype:
        model = model.to(getattr(torch, dtype))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return sum(p.numel() for p in model.parameters())


def old_criterion(tokenizer: Any, stop: list[str], prompt_length: int) -> Any:
    """The stopping criterion TransformersModel used before: decode the last tokens at every step."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    window = max(len(s) for s in stop) + 8

    class StopOnSequences(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            tail = input_ids[0, max(prompt_length, input_ids.shape[1] - window) :]
            done = any(s in tokenizer.decode(tail, skip_special_tokens=True) for s in stop)
            return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([StopOnSequences()])


def measure(directory: Path, *, device: str, dtype: str | None, new_tokens: int, repeats: int, old_repeats: int, budget: float = 100.0, **_: Any) -> dict[str, Any]:
    """Median seconds (and tokens) of each variant; ``old_criterion`` rounds stop when ``budget`` seconds have passed."""
    import torch

    from smolkernel.models import TransformersModel

    began = time.perf_counter()
    options = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens}
    model = TransformersModel(str(directory), device=device, model_kwargs={"dtype": getattr(torch, dtype)} if dtype else None, **options)
    hf_model, tokenizer = model._load()
    inputs = tokenizer(model.render_prompt(MESSAGES), return_tensors="pt", add_special_tokens=False).to(device)
    length = inputs["input_ids"].shape[1]
    loop = asyncio.new_event_loop()

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def raw(**extra: Any) -> tuple[float, int]:
        sync()
        start = time.perf_counter()
        with torch.no_grad():
            output = hf_model.generate(**inputs, do_sample=False, pad_token_id=tokenizer.eos_token_id, **options, **extra)
        produced = len(output[0, length:].tolist())  # .tolist() waits for the device
        return time.perf_counter() - start, produced

    def ours() -> tuple[float, int]:
        sync()
        start = time.perf_counter()
        message = loop.run_until_complete(model.agenerate(MESSAGES, stop=STOP))
        return time.perf_counter() - start, message.token_usage.output_tokens

    variants = {
        "generate": raw,
        "generate_stop_strings": lambda: raw(stop_strings=STOP, tokenizer=tokenizer),
        "agenerate": ours,
        "old_criterion": lambda: raw(stopping_criteria=old_criterion(tokenizer, STOP, length)),
    }
    for name, run in variants.items():  # warm-up: kernels, caches, the stop-string tables
        if name != "old_criterion":  # nothing of its own to warm, and the slowest by far
            run()
    times: dict[str, list[float]] = {name: [] for name in variants}
    tokens: dict[str, set[int]] = {name: set() for name in variants}
    for round_ in range(repeats):
        for name, run in variants.items():
            if name == "old_criterion" and (round_ >= old_repeats or time.perf_counter() - began > budget):
                continue
            elapsed, produced = run()
            times[name].append(elapsed)
            tokens[name].add(produced)
    loop.close()
    name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu"
    return summary(times, tokens, device=name, dtype=dtype or "float32", new_tokens=new_tokens)


def summary(times: dict[str, list[float]], tokens: dict[str, set[int]], **facts: Any) -> dict[str, Any]:
    """Medians, run counts, tokens generated and the ratios to ``generate``."""
    medians = {name: round(statistics.median(values), 4) for name, values in times.items() if values}
    return {
        **facts,
        "tokens_generated": {name: sorted(values) for name, values in tokens.items()},
        "runs": {name: len(values) for name, values in times.items()},
        "median_s": medians,
        "ratio_agenerate_vs_generate": round(medians["agenerate"] / medians["generate"], 3),
        "ratio_stop_strings_vs_generate": round(medians["generate_stop_strings"] / medians["generate"], 3),
        "ratio_old_criterion_vs_generate": round(medians["old_criterion"] / medians["generate"], 3) if "old_criterion" in medians else None,
        "goal": "ratio_agenerate_vs_generate <= 1.05",
    }


def main(argv: list[str] | None = None) -> None:
    """Build the model, measure, print a table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", action="store_true", help="the CUDA preset: ~150M parameters, bf16, 256 new tokens")
    parser.add_argument("--repeats", type=int, help="rounds (default: the preset's)")
    parser.add_argument("--new-tokens", type=int, help="tokens per generation (default: the preset's)")
    parser.add_argument("--budget", type=float, default=100.0, help="seconds of measuring after which no more old_criterion rounds start")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: 1 on the CPU preset, fewer swings on a shared machine)")
    args = parser.parse_args(argv)
    threads = args.threads or (None if args.gpu else 1)
    if threads:
        import torch

        torch.set_num_threads(threads)
    preset = dict(PRESETS["gpu" if args.gpu else "cpu"])
    preset.update({k: v for k, v in {"repeats": args.repeats, "new_tokens": args.new_tokens}.items() if v})
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sk-bench-gpt2-") as folder:
        params = build_model(Path(folder), **preset)
        result = measure(Path(folder), budget=args.budget, **preset)
    result["params_m"] = round(params / 1e6, 1)
    result["total_s"] = round(time.perf_counter() - began, 1)
    print(f"\nTransformersModel vs model.generate on {result['device']} ({result['params_m']}M params, {result['dtype']}, {result['new_tokens']} new tokens)", file=sys.stderr)
    for name, value in result["median_s"].items():
        print(f"  {name:24} {value:9.4f} s  x{value / result['median_s']['generate']:.3f}  ({result['runs'][name]} runs)", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
