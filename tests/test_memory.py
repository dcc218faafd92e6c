"""Training keeps memory flat: each step's graph is freed, nothing piles up from step to step.

Memory is counted as ``sys.getallocatedblocks()``, the number of small-object blocks
CPython's allocator has handed out (every Value and every float is one): it costs
nothing to read, where tracemalloc would make the run several times slower.
"""

from __future__ import annotations

import math
import random
import sys

import pytest

from nanograd.losses import hinge_loss, l2_penalty
from nanograd.neural_net import MLP
from nanograd.optim import SGD

STEPS, SAMPLE_EVERY = 1000, 100
#: Allowed growth from step 100 to step 1000, in blocks. One step's graph takes about 3,500
#: blocks (a node and its number), so keeping even one node per step (1,800 blocks) fails.
ALLOWED_GROWTH = 200


def small_moons() -> tuple[list[list[float]], list[float]]:
    """Eight points on two interleaved half circles (the moons), labels +1 and -1."""
    angles = [math.pi * k / 3 for k in range(4)]
    upper = [[math.cos(t), math.sin(t)] for t in angles]
    lower = [[1 - math.cos(t), 0.5 - math.sin(t)] for t in angles]
    return upper + lower, [1.0] * 4 + [-1.0] * 4


def test_memory_stays_flat_over_1000_training_steps() -> None:
    """A moons MLP trained as users write the loop (the cycle collector left as it is)."""
    X, y = small_moons()
    random.seed(1337)
    model = MLP(2, [8, 8, 1])
    optimizer = SGD(model.parameters(), lr=0.05)
    blocks = [0] * (STEPS // SAMPLE_EVERY)
    losses: list[float] = []
    for step in range(STEPS):
        loss = hinge_loss([model(x) for x in X], y) + l2_penalty(model.parameters(), 1e-4)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step == 0 or step == STEPS - 1:
            losses.append(loss.data)
        if (step + 1) % SAMPLE_EVERY == 0:
            blocks[step // SAMPLE_EVERY] = sys.getallocatedblocks()
    assert losses == pytest.approx([1.4216092573140646, 0.23994384147693526], rel=1e-9)
    growth = [b - blocks[0] for b in blocks]
    assert max(growth) < ALLOWED_GROWTH, f"allocated blocks grew by {growth} (sampled every {SAMPLE_EVERY} steps)"


def test_memory_stays_flat_over_compiled_training_steps() -> None:
    """The same model trained through compile's train_step: arrays and Values, nothing kept from step to step.

    Counted from step 3000: until then the count creeps up by about a block a step, then
    stops. A loop that only copies numpy arrays' shapes (``tuple(a.shape)``) does the same:
    freed tuples kept for reuse, not objects of nanograd's.
    """
    np = pytest.importorskip("numpy")
    import nanograd

    X, y = small_moons()
    random.seed(1337)
    model = MLP(2, [8, 8, 1])
    params = model.parameters()
    objective = nanograd.compile(lambda x, t: (1 + -t * model.scalar(x)).relu() + l2_penalty(params, 1e-4))
    step = objective.train_step(SGD(params, lr=0.05))
    points, labels = np.array(X), np.array(y)
    blocks = []
    for k in range(5 * STEPS):
        loss = step(points, labels)
        if k >= 3 * STEPS and (k + 1) % SAMPLE_EVERY == 0:
            blocks.append(sys.getallocatedblocks())
    assert loss < 0.3  # it trained: the mean hinge loss of the eight points fell
    growth = [b - blocks[0] for b in blocks]
    assert max(growth) < ALLOWED_GROWTH, f"allocated blocks grew by {growth} (sampled every {SAMPLE_EVERY} steps)"
