"""The examples in ``examples/`` run and do what they say (with a small step count)."""

from __future__ import annotations

import math
from types import ModuleType

import pytest
from conftest import ROOT, load_module

from nanograd import Value, no_grad


@pytest.fixture(scope="module")
def gpt() -> ModuleType:
    return load_module(ROOT / "examples" / "gpt.py")


def test_gpt_building_blocks(gpt: ModuleType) -> None:
    probs = gpt.softmax([Value(1.0), Value(2.0), Value(3.0)])
    total = 1 + math.e + math.e**2
    assert [p.data for p in probs] == pytest.approx([1 / total, math.e / total, math.e**2 / total], rel=1e-15)
    assert [v.data for v in gpt.rmsnorm([Value(3.0), Value(4.0)])] == pytest.approx(
        [3 / math.sqrt(12.5 + 1e-5), 4 / math.sqrt(12.5 + 1e-5)], rel=1e-15
    )
    assert gpt.cross_entropy([Value(0.0), Value(0.0), Value(0.0), Value(0.0)], 2).data == pytest.approx(math.log(4))
    assert [v.data for v in gpt.linear([Value(1.0), Value(2.0)], [[Value(3.0), Value(4.0)]])] == [11.0]


def test_gpt_tokenizer_round_trip(gpt: ModuleType) -> None:
    tokenizer = gpt.Tokenizer(["abc", "cab"])
    assert tokenizer.vocab_size == 4
    assert tokenizer.encode("cab") == [0, 3, 1, 2, 0]
    assert tokenizer.decode(tokenizer.encode("cab")) == "cab"


def test_gpt_learns_the_names(gpt: ModuleType) -> None:
    """40 steps of training lower the loss on a fixed set of names, with the same numbers every run."""
    words = gpt.load_words()
    tokenizer = gpt.Tokenizer(words)
    model = gpt.GPT(tokenizer.vocab_size, seed=0)
    assert len(words) == 360 and tokenizer.vocab_size == 27 and len(model.parameters()) == 4192
    held = words[::18]

    def mean_loss() -> float:
        with no_grad():
            return sum(model.loss(tokenizer.encode(w)).data for w in held) / len(held)

    before = mean_loss()
    # Random weights predict every token with about the same probability: loss near log(27).
    assert before == pytest.approx(3.3570557934145517, rel=1e-12)
    assert abs(before - math.log(27)) < 0.1
    losses = gpt.train(model, tokenizer, words, steps=40)
    assert losses[0] == pytest.approx(3.3355624506059507, rel=1e-12)
    after = mean_loss()
    assert after == pytest.approx(2.6399549116582146, rel=1e-9)
    assert after < before - 0.5
    words_out = gpt.sample(model, tokenizer, 5)
    assert words_out == ["vli", "para", "rina", "rass", "vari"]
    assert words_out == gpt.sample(model, tokenizer, 5)  # the seed fixes the draw
