"""TransformersModel on a tiny GPT-2 built and saved by the test itself (nothing is downloaded)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="TransformersModel needs torch (the transformers extra)")
transformers = pytest.importorskip("transformers", reason="TransformersModel needs transformers (the transformers extra)")
tokenizers = pytest.importorskip("tokenizers", reason="TransformersModel needs tokenizers (the transformers extra)")

from smolkernel.models import TransformersModel  # noqa: E402

pytestmark = pytest.mark.transformers

SENTENCES = [
    "the cat sat on the mat and looked at the dog",
    "a dog runs in the park with a red ball",
    "two plus three is five and five plus five is ten",
    "the answer is in the code, so read the code first",
    "Thought: I will add the numbers. Observation: the sum is five.",
]
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is two plus three?"}]


def _tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator(SENTENCES, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|endoftext|>", bos_token="<|endoftext|>", pad_token="<|endoftext|>")


@pytest.fixture(scope="module")
def tiny_model_dirs(tmp_path_factory):
    """Two directories with the same tiny GPT-2: one tokenizer has a chat template, one does not."""
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = _tokenizer()
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=256, n_embd=16, n_layer=2, n_head=2, eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id)
    model = GPT2LMHeadModel(config)
    plain, templated = tmp_path_factory.mktemp("tiny-plain"), tmp_path_factory.mktemp("tiny-chat")
    for directory in (plain, templated):
        model.save_pretrained(directory)
    tokenizer.save_pretrained(plain)
    tokenizer.chat_template = TEMPLATE
    tokenizer.save_pretrained(templated)
    return {"plain": plain, "templated": templated}


@pytest.fixture(params=["templated", "plain"])
def model(request, tiny_model_dirs) -> TransformersModel:
    # min_new_tokens keeps the random model from ending at once on its end token
    return TransformersModel(str(tiny_model_dirs[request.param]), max_new_tokens=24, min_new_tokens=24)


async def test_generates_text_with_tokenizer_counts(model):
    message = await model.agenerate(MESSAGES)
    assert isinstance(message.content, str) and message.content
    prompt = model.render_prompt(MESSAGES)
    templated = bool(model.tokenizer.chat_template)
    expected_input = len(model.tokenizer(prompt, add_special_tokens=not templated)["input_ids"])
    assert message.token_usage.input_tokens == expected_input
    assert message.token_usage.output_tokens == 24


def test_prompt_uses_the_chat_template_or_the_fallback(model):
    prompt = model.render_prompt(MESSAGES)
    if model.tokenizer.chat_template:
        assert prompt.startswith("<|system|>Be brief.") and prompt.endswith("<|assistant|>")
    else:
        assert prompt == "system: Be brief.\nuser: What is two plus three?\nassistant:"


async def test_stop_sequences_end_generation_early(model):
    full = (await model.agenerate(MESSAGES)).content
    stop = full[len(full) // 3 : len(full) // 3 + 3]
    assert stop.strip(), f"the sample text is too uniform to pick a stop sequence: {full!r}"
    stopped = await model.agenerate(MESSAGES, stop=[stop])
    assert stopped.content == full[: full.index(stop)]
    assert stopped.token_usage.output_tokens < 24, "the stopping criterion should end generation"


async def test_streaming_matches_generate(model):
    full = (await model.agenerate(MESSAGES)).content
    deltas = [delta async for delta in model.astream(MESSAGES)]
    assert "".join(d.content or "" for d in deltas) == full
    assert deltas[-1].token_usage.output_tokens == 24
    stop = full[len(full) // 2 : len(full) // 2 + 2]
    streamed = "".join([d.content or "" async for d in model.astream(MESSAGES, stop=[stop])])
    assert streamed == full[: full.index(stop)]


def test_sync_twins(model):
    assert model.generate(MESSAGES).content == "".join(d.content or "" for d in model.stream(MESSAGES))


def test_tool_calls_written_as_json_are_parsed():
    from smolkernel.models.transformers_model import _parse_tool_calls

    text = 'I will call it. <tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>'
    (call,) = _parse_tool_calls(text, ["add"])
    assert (call.name, call.arguments) == ("add", {"a": 1, "b": 2})
    assert _parse_tool_calls('{"name": "other", "arguments": {}}', ["add"]) == []


async def test_device_map_auto_in_model_kwargs(tiny_model_dirs):
    """``device_map="auto"`` (accelerate) places the weights itself; on a CPU-only machine, on the CPU."""
    pytest.importorskip("accelerate", reason="device_map needs accelerate (the transformers extra)")
    path = str(tiny_model_dirs["templated"])
    mapped = TransformersModel(path, max_new_tokens=12, min_new_tokens=12, model_kwargs={"device_map": "auto"})
    plain = TransformersModel(path, max_new_tokens=12, min_new_tokens=12)
    message = await mapped.agenerate(MESSAGES)
    assert {p.device.type for p in mapped._model.parameters()} == {"cpu"}
    assert str(mapped.input_device) == "cpu"
    assert message.content == (await plain.agenerate(MESSAGES)).content  # same weights, greedy: same text


async def test_stop_uses_transformers_stop_string_criterion(tiny_model_dirs, monkeypatch):
    """Stop sequences reach ``generate`` as transformers' own StopStringCriteria, built once per set of stops."""
    from transformers import StopStringCriteria

    model = TransformersModel(str(tiny_model_dirs["plain"]), max_new_tokens=24, min_new_tokens=24)
    hf_model, _ = model._load()
    seen = []
    original = hf_model.generate

    def recording_generate(*args, **kwargs):
        seen.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(hf_model, "generate", recording_generate)
    full = (await model.agenerate(MESSAGES)).content
    assert "stopping_criteria" not in seen[-1] and "stop_strings" not in seen[-1]  # exactly what raw generate gets
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    first = await model.agenerate(MESSAGES, stop=[stop, ""])
    second = await model.agenerate(MESSAGES, stop=[stop])
    (criterion,) = seen[-2]["stopping_criteria"]
    assert isinstance(criterion.inner, StopStringCriteria) and criterion.inner.stop_strings == (stop,)
    assert seen[-1]["stopping_criteria"][0] is criterion, "built once, reused"
    assert first.content == second.content == full[: full.index(stop)]
    assert first.token_usage.output_tokens < 24


def test_tool_calls_in_other_formats_are_read_for_offered_tools():
    from smolkernel.models.transformers_model import _parse_tool_calls

    (call,) = _parse_tool_calls('<function=add>{"a": 1, "b": 2}</function>', ["add"])
    assert (call.name, call.arguments) == ("add", {"a": 1, "b": 2})
    (call,) = _parse_tool_calls('[TOOL_CALLS]add[ARGS]{"a": 1, "b": "x}', ["add"])
    assert call.problem and "invalid JSON" in call.problem
    assert _parse_tool_calls("no call here", ["add"]) == []


def test_gated_stop_criterion_decides_as_the_library_does(tiny_model_dirs):
    """The gate skips transformers' StopStringCriteria only where its answer is 'not done'."""
    from transformers import StopStringCriteria

    from smolkernel.models.transformers_model import _gated

    model = TransformersModel(str(tiny_model_dirs["plain"]))
    _, tokenizer = model._load()
    stops = ["Observation:", "the dog"]
    library = StopStringCriteria(tokenizer, stops)
    gated = _gated(library)
    generator = torch.Generator().manual_seed(0)
    samples = [torch.randint(0, len(tokenizer), (1, 12), generator=generator) for _ in range(300)]
    for text in ("Thought: ok. Observation:", "a dog runs. the dog", "the cat sat on the mat and looked at the dog"):
        samples.append(tokenizer(text, return_tensors="pt")["input_ids"])
    decisions = [(bool(gated(ids, None)[0]), bool(library(ids, None)[0])) for ids in samples]
    assert all(ours == theirs for ours, theirs in decisions)
    assert sum(theirs for _, theirs in decisions) >= 3, "the stop strings at the end must be seen"
