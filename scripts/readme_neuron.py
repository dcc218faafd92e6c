"""The README's 2D neuron, ``relu(w1*x1 + w2*x2 + b)``, seeded and labelled, for the pictures drawn from it.

``scripts/make_gout.py`` and ``scripts/make_explore_screenshot.py`` import it (a script's own
folder is on ``sys.path``), and ``trace_graph.ipynb`` builds the same neuron with the same seed.
"""

from __future__ import annotations

import random

from nanograd import Value, nn

SEED = 1337  # the seed of trace_graph.ipynb, so every picture shows the same numbers


def labelled_neuron() -> Value:
    """The output ``y`` of the seeded neuron at ``x = [1, -2]``, backpropagated, every leaf named."""
    random.seed(SEED)
    n = nn.Neuron(2)
    x = [Value(1.0, label="x1"), Value(-2.0, label="x2")]
    n.w[0].label, n.w[1].label, n.b.label = "w1", "w2", "b"
    y = n(x)
    y.label = "y"
    y.backpropagate()
    return y
