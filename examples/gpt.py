"""A character-level GPT made of scalar Values, trained one word at a time.

The same ``Value`` the seed's neuron is made of, and nothing else, builds a small
transformer: every weight is a Value, and every multiply and add of every matrix
product is a node of the graph. It reads a list of names (``data/names.txt`` in the
repository) and learns to make up new ones.

The model is a GPT-2 style decoder, simplified:

* tokens are characters, plus one boundary token that starts and ends every word;
* a token embedding plus a position embedding (dimension 16, context 16 tokens);
* one block: RMSNorm, 4-head causal self-attention, residual; RMSNorm, an MLP
  (16 -> 64, ReLU, 64 -> 16), residual;
* a linear head with one logit per token, and softmax cross-entropy written with
  ``exp`` and ``log``.

The model reads a word one character at a time. Each position appends its key and
value vectors to a cache, so later positions attend to all earlier ones without
recomputing them. Training takes a batch of words per step (one word by default), with Adam.

Run ``python examples/gpt.py`` (500 steps, under a minute), or use the pieces::

    words = load_words()
    tokenizer = Tokenizer(words)
    model = GPT(tokenizer.vocab_size, seed=42)
    losses = train(model, tokenizer, words, steps=300)
    print(sample(model, tokenizer, 10))

``GPT(..., value=cls)`` builds the parameters as ``cls`` instead of nanograd's
``Value``; ``benchmarks/gpt_step.py`` uses that to run this very model on other engines.

Compiled training
    ``train(..., compiled=True, batch=32)`` (``python examples/gpt.py --compiled --batch 32``)
    trains the same model through :func:`nanograd.compile`: the loss of one word is traced
    once per word length as a function of its token ids, and each step runs it over a
    batch of words of that length on arrays, with many times the words per second of the
    eager Values (``benchmarks/gpt_step.py`` measures both). With ``batch=1`` every step's
    loss is the eager one's, to rounding.

    A microgpt-style script gets this speed with three changes. Build the parameters as
    nanograd's ``Value``. Make each choice that reads a token id or a number part of the
    graph, as :func:`pick` and :func:`softmax` do here: ``nanograd.take(table, token)`` for
    ``table[token]`` (the embedding row, the target's probability), and
    ``nanograd.losses.softmax`` (its maximum is :func:`nanograd.maximum`) for a softmax that
    subtracts ``max(v.data for v in logits)``. Then compile the loss of one word, a function
    of its token ids, and let its training step replace the loop's forward, backward and update::

        step = nanograd.compile(word_loss).train_step(nanograd.optim.Adam(params, lr=0.01))
        loss = step(ids_batch)   # one row of token ids per word, all words of one length

    (:func:`pick` and :func:`softmax` keep to plain Python for an int token when nothing is
    traced, so that other engines' Values still run the eager model.)
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import nanograd
from nanograd import Value, no_grad, take
from nanograd.compiler.trace import tracing
from nanograd.losses import softmax as traceable_softmax
from nanograd.optim import Adam, Optimizer, linear_decay

WORDS = Path(__file__).resolve().parent.parent / "data" / "names.txt"

Vector = list[Value]
Matrix = list[list[Value]]
#: A token id: an int eagerly, a Value holding one inside a compiled function (an argument).
Token = int | Value
T = TypeVar("T")
#: One layer's cache: the keys and the values of every position read so far.
Cache = list[tuple[list[Vector], list[Vector]]]

#: The token id that starts and ends every word.
BOUNDARY = 0


def load_words(path: Path = WORDS) -> list[str]:
    """The words in ``path``, one per line (blank lines skipped)."""
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class Tokenizer:
    """Characters to token ids and back; id 0 is the boundary token, letters follow in sorted order."""

    def __init__(self, words: Sequence[str]) -> None:
        self.chars = sorted(set("".join(words)))
        self.vocab_size = len(self.chars) + 1
        self._ids = {c: i + 1 for i, c in enumerate(self.chars)}

    def encode(self, word: str) -> list[int]:
        """``word`` as token ids, with the boundary token before and after it."""
        return [BOUNDARY, *(self._ids[c] for c in word), BOUNDARY]

    def decode(self, ids: Sequence[int]) -> str:
        """The characters of ``ids``, boundary tokens left out."""
        return "".join(self.chars[i - 1] for i in ids if i != BOUNDARY)


# -- the building blocks: plain functions of lists of Values ----------------------------
def linear(x: Vector, w: Matrix) -> Vector:
    """The matrix-vector product ``w @ x``: one weighted sum per row of ``w``."""
    return [sum(wi * xi for wi, xi in zip(row, x)) for row in w]


def pick(values: Sequence[T], index: Token) -> T:
    """``values[index]``: Python indexing for an int, :func:`nanograd.take` for a token id held in a Value.

    Inside a compiled function the token ids are arguments, whose numbers are unknown
    while tracing; ``take`` records the choice in the graph. An int keeps the eager model
    plain Python, which other engines' Values run too.
    """
    return values[index] if isinstance(index, int) else take(values, index)  # type: ignore[arg-type, return-value]


def softmax(logits: Vector) -> Vector:
    """``exp(logit)`` normalised to sum to 1 (the largest logit is subtracted first, so exp cannot overflow).

    Eagerly the largest logit is read as a number: any constant shift gives the same
    softmax, and a number adds no node to the graph. While :func:`nanograd.compile`
    traces, numbers cannot be read, so nanograd's softmax takes the maximum with
    :func:`nanograd.maximum`, an op of the graph (the same number, so the same result).
    """
    if tracing():
        return traceable_softmax(logits)
    top = max(v.data for v in logits)
    exps = [(v - top).exp() for v in logits]
    total = sum(exps)
    return [e / total for e in exps]


def rmsnorm(x: Vector, eps: float = 1e-5) -> Vector:
    """``x`` divided by its root mean square, so its entries have mean square 1."""
    scale = (sum(xi * xi for xi in x) / len(x) + eps) ** -0.5
    return [xi * scale for xi in x]


def cross_entropy(logits: Vector, target: Token) -> Value:
    """``-log(probability of target)``: the loss of predicting ``target`` from ``logits``."""
    return -pick(softmax(logits), target).log()


@dataclass(frozen=True)
class Config:
    """The model's sizes."""

    n_embd: int = 16  # width of every vector in the residual stream
    n_head: int = 4  # attention heads, each n_embd // n_head wide
    n_layer: int = 1  # transformer blocks
    block_size: int = 16  # longest context, in tokens
    init_std: float = 0.08  # weights start as gauss(0, init_std)


class GPT:
    """The transformer: embeddings, ``n_layer`` blocks of attention and MLP, and a linear head."""

    def __init__(
        self, vocab_size: int, config: Config = Config(), seed: int = 0, value: Callable[[float], Value] = Value
    ) -> None:
        self.config = config
        rng = random.Random(seed)
        d = config.n_embd

        def matrix(rows: int, cols: int) -> Matrix:
            return [[value(rng.gauss(0.0, config.init_std)) for _ in range(cols)] for _ in range(rows)]

        self.token_embedding = matrix(vocab_size, d)
        self.position_embedding = matrix(config.block_size, d)
        self.layers = [
            {
                "query": matrix(d, d),
                "key": matrix(d, d),
                "value": matrix(d, d),
                "attention_out": matrix(d, d),
                "mlp_in": matrix(4 * d, d),
                "mlp_out": matrix(d, 4 * d),
            }
            for _ in range(config.n_layer)
        ]
        self.head = matrix(vocab_size, d)

    def parameters(self) -> list[Value]:
        """Every weight, in a fixed order."""
        matrices = [self.token_embedding, self.position_embedding]
        matrices += [w for layer in self.layers for w in layer.values()]
        matrices.append(self.head)
        return [p for w in matrices for row in w for p in row]

    def new_cache(self) -> Cache:
        """An empty key/value cache, one per layer, for reading a new word."""
        return [([], []) for _ in self.layers]

    def __call__(self, token: Token, pos: int, cache: Cache) -> Vector:
        """Logits for the token after ``token``, which stands at position ``pos``.

        ``cache`` holds the keys and values of positions ``0 .. pos-1``; this call adds its own.
        """
        x = [t + p for t, p in zip(pick(self.token_embedding, token), self.position_embedding[pos])]
        x = rmsnorm(x)
        for layer, (keys, values) in zip(self.layers, cache):
            x = [a + b for a, b in zip(x, self.attention(layer, rmsnorm(x), keys, values))]
            x = [a + b for a, b in zip(x, self.mlp(layer, rmsnorm(x)))]
        return linear(x, self.head)

    def attention(self, layer: dict[str, Matrix], x: Vector, keys: list[Vector], values: list[Vector]) -> Vector:
        """Causal self-attention of ``x`` over the cached positions and itself, one head at a time."""
        query = linear(x, layer["query"])
        keys.append(linear(x, layer["key"]))
        values.append(linear(x, layer["value"]))
        width = self.config.n_embd // self.config.n_head
        out: Vector = []
        for start in range(0, self.config.n_embd, width):
            head = range(start, start + width)
            scores = [sum(query[i] * key[i] for i in head) / math.sqrt(width) for key in keys]
            weights = softmax(scores)
            out += [sum(w * value[i] for w, value in zip(weights, values)) for i in head]
        return linear(out, layer["attention_out"])

    def mlp(self, layer: dict[str, Matrix], x: Vector) -> Vector:
        """Two linear maps with a ReLU between them (width 4 * n_embd inside)."""
        return linear([h.relu() for h in linear(x, layer["mlp_in"])], layer["mlp_out"])

    def loss(self, ids: Sequence[Token]) -> Value:
        """Mean cross-entropy of predicting each next token of ``ids`` (at most ``block_size`` of them).

        ``ids`` are ints, or Values holding them: compiled, this is a function of the token ids.
        """
        n = min(self.config.block_size, len(ids) - 1)
        cache = self.new_cache()
        losses = [cross_entropy(self(ids[pos], pos, cache), ids[pos + 1]) for pos in range(n)]
        return sum(losses) * (1.0 / n)


# -- training and sampling ------------------------------------------------------------
def make_optimizer(model: GPT, steps: int, lr: float = 0.01) -> Optimizer:
    """Adam with the rate decaying linearly towards 0 over ``steps`` steps."""
    return Adam(model.parameters(), lr=lr, betas=(0.85, 0.99), lr_schedule=linear_decay(steps, decay=1.0))


def train_step(model: GPT, optimizer: Optimizer, batch: Sequence[Sequence[int]]) -> float:
    """One step on a batch of words (their token ids): mean loss, backpropagation, update. Returns the loss."""
    losses = [model.loss(ids) for ids in batch]
    loss = sum(losses[1:], losses[0]) * (1.0 / len(losses))  # the mean as the compiled step takes it
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.data


def batches(words: Sequence[str], size: int, seed: int = 0) -> list[list[str]]:
    """The words in a shuffled order, in batches of ``size`` words of one length.

    A compiled step runs one trace, and a trace has one word length. Each word joins the
    open batch of its length, and a batch is done when it is full, so with ``size=1`` the
    batches are the shuffled words one by one. Lengths with words left over end in a
    smaller batch.
    """
    order = list(words)
    random.Random(seed).shuffle(order)
    done: list[list[str]] = []
    filling: dict[int, list[str]] = {}
    for word in order:
        batch = filling.setdefault(len(word), [])
        batch.append(word)
        if len(batch) == size:
            done.append(filling.pop(len(word)))
    return done + list(filling.values())


def train(
    model: GPT,
    tokenizer: Tokenizer,
    words: Sequence[str],
    steps: int,
    seed: int = 0,
    on_step: Callable[[int, float], None] | None = None,
    compiled: bool = False,
    batch: int = 1,
) -> list[float]:
    """Train for ``steps`` steps on :func:`batches` of ``batch`` words; returns the mean loss of every step.

    ``compiled=True`` runs each step through :func:`nanograd.compile`: the loss of one
    word as a function of its token ids (a trace per word length), its mean over the
    batch, the gradient and Adam's update on arrays; the parameters hold the new numbers
    after each step. The losses equal the eager ones to rounding.
    """
    groups = batches(words, batch, seed)
    optimizer = make_optimizer(model, steps)
    # Either way ``step(rows)`` takes one list of token ids per word (the compiled one makes them an array).
    step = nanograd.compile(model.loss).train_step(optimizer) if compiled else partial(train_step, model, optimizer)
    losses = []
    for k in range(steps):
        losses.append(step([tokenizer.encode(w) for w in groups[k % len(groups)]]))
        if on_step is not None:
            on_step(k, losses[-1])
    return losses


def sample(model: GPT, tokenizer: Tokenizer, n: int, temperature: float = 0.5, seed: int = 0) -> list[str]:
    """``n`` new words, each drawn one character at a time (lower ``temperature``: safer choices)."""
    rng = random.Random(seed)
    words = []
    with no_grad():  # no backpropagation here: build no graph
        for _ in range(n):
            cache, token, ids = model.new_cache(), BOUNDARY, []
            for pos in range(model.config.block_size):
                probs = softmax([logit / temperature for logit in model(token, pos, cache)])
                token = rng.choices(range(len(probs)), weights=[p.data for p in probs])[0]
                if token == BOUNDARY:
                    break
                ids.append(token)
            words.append(tokenizer.decode(ids))
    return words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="training steps, one batch each (default 500)")
    parser.add_argument("--batch", type=int, default=1, help="words per step, all of one length (default 1)")
    parser.add_argument("--compiled", action="store_true", help="train through nanograd.compile, on arrays")
    parser.add_argument("--samples", type=int, default=20, help="words to sample after training (default 20)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if args.batch < 1 or args.steps < 1:
        parser.error("--steps and --batch must be at least 1")

    words = load_words()
    tokenizer = Tokenizer(words)
    model = GPT(tokenizer.vocab_size, seed=args.seed)
    how = "compiled" if args.compiled else "eager"
    print(f"{len(words)} words, {tokenizer.vocab_size} tokens, {len(model.parameters())} parameters")
    print(f"training {how}, {args.steps} steps of up to {args.batch} word(s) of one length")

    every = max(1, args.steps // 20)  # about 20 lines of progress
    recent: list[float] = []
    start = time.perf_counter()

    def report(step: int, loss: float) -> None:
        recent.append(loss)
        if len(recent) == every or step == args.steps - 1:
            mean = sum(recent) / len(recent)
            seconds = time.perf_counter() - start
            mean_of = f"mean of the last {len(recent)} steps"
            print(f"step {step + 1:4d} / {args.steps}  loss {mean:.4f} ({mean_of})  {seconds:.1f} s")
            recent.clear()

    train(model, tokenizer, words, args.steps, seed=args.seed, on_step=report, compiled=args.compiled, batch=args.batch)
    print("samples:", " ".join(sample(model, tokenizer, args.samples, seed=args.seed)))


if __name__ == "__main__":
    main()
