"""examples/gpt.py trained through ``nanograd.compile``: the eager training is the reference."""

from __future__ import annotations

import random
import re
import sys
from types import ModuleType

import pytest
from conftest import ROOT, load_module

pytest.importorskip("numpy")  # the array backend; on the python backend a compiled step is the eager loop


@pytest.fixture(scope="module")
def gpt() -> ModuleType:
    return load_module(ROOT / "examples" / "gpt.py")


def trained(gpt: ModuleType, steps: int, **how: object) -> tuple[list[float], list[float]]:
    """The losses of ``steps`` steps from the same start, and the parameters' numbers after them."""
    words = gpt.load_words()[:60]
    tokenizer = gpt.Tokenizer(words)
    model = gpt.GPT(tokenizer.vocab_size, seed=3)
    losses = gpt.train(model, tokenizer, words, steps, seed=3, **how)
    return losses, [p.data for p in model.parameters()]


def test_batches_hold_words_of_one_length_and_one_word_batches_keep_the_shuffled_order(gpt: ModuleType) -> None:
    words = gpt.load_words()
    groups = gpt.batches(words, 8, seed=1)
    assert sorted(w for g in groups for w in g) == sorted(words)
    assert all(len({len(w) for w in g}) == 1 and 1 <= len(g) <= 8 for g in groups)
    smaller = [len(g[0]) for g in groups if len(g) < 8]
    assert len(smaller) == len(set(smaller))  # at most one smaller batch per length: its words left over
    order = list(words)
    random.Random(1).shuffle(order)  # the eager loop's order, one word per step
    assert gpt.batches(words, 1, seed=1) == [[w] for w in order]


@pytest.mark.parametrize("batch, steps", [(1, 20), (4, 4)])
def test_compiled_training_takes_the_eager_steps(gpt: ModuleType, batch: int, steps: int) -> None:
    """The same words in the same order and the same Adam: every step's loss and the weights after agree to 1e-9."""
    eager, eager_weights = trained(gpt, steps, batch=batch)
    compiled, compiled_weights = trained(gpt, steps, batch=batch, compiled=True)
    assert compiled == pytest.approx(eager, rel=1e-9)
    assert compiled_weights == pytest.approx(eager_weights, rel=1e-7, abs=1e-9)


def test_the_command_line_trains_compiled_batches(
    gpt: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["gpt.py", "--compiled", "--batch", "16", "--steps", "40", "--samples", "3"])
    gpt.main()
    out = capsys.readouterr().out
    assert "training compiled, 40 steps of up to 16 word(s)" in out
    losses = [float(x) for x in re.findall(r"loss (\d+\.\d+)", out)]
    assert len(losses) == 20
    assert losses[0] > 3.0 and max(losses[-3:]) < losses[0] - 0.5
    assert len(out.splitlines()[-1].split()) == 4  # "samples:" and three words
