"""The ``nanograd`` command line: ``nanograd demo`` trains the moons classifier.

Also run as ``python -m nanograd``. ``main`` returns the exit status; argparse
reports bad options with a usage message and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .value import no_grad

DEMO_EXTRAS_HINT = 'pip install "nanograd[demo]"'


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is not positive")
    return n


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``nanograd`` command."""
    parser = argparse.ArgumentParser(
        prog="nanograd", description="nanograd: a scalar autodiff engine and a small neural-net library."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="train an MLP on the two-moons data set (micrograd's demo)",
        description="Train MLP(2, [16, 16, 1]) on scikit-learn's two moons with the hinge loss plus "
        "1e-4 L2 regularisation, then write the decision boundary (moon_mlp.png) and the "
        "loss/accuracy curves (moon_mlp_training.png). Needs " + DEMO_EXTRAS_HINT + ".",
    )
    demo.add_argument("--steps", type=_positive_int, default=100, metavar="N", help="training steps (default: 100)")
    demo.add_argument(
        "--seed",
        type=int,
        default=1337,
        metavar="SEED",
        help="seed of the data set and of the weight initialisation (default: 1337)",
    )
    demo.add_argument(
        "--samples", type=_positive_int, default=100, metavar="N", help="number of moons points (default: 100)"
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="directory for the images, created if missing (default: the current directory)",
    )
    demo.add_argument(
        "--optimizer",
        choices=["sgd", "adam"],
        default="sgd",
        help="sgd: learning rate 1.0 decaying linearly to 0.1, as in micrograd (default); "
        "adam: learning rate 0.05 with the same decay",
    )
    demo.add_argument(
        "--engine",
        choices=["compiled", "eager"],
        default="compiled",
        help="compiled: trace the model once and run the batch as array operations (default, faster); "
        "eager: build the graph of every sample at every step. Both give the same result",
    )
    return parser


def run_demo(args: argparse.Namespace) -> int:
    """Train, report and write the images of ``nanograd demo``; returns the exit status."""
    try:
        from tqdm import tqdm

        from . import demo
    except ModuleNotFoundError as e:
        print(f"nanograd demo needs the package {e.name!r}: {DEMO_EXTRAS_HINT}", file=sys.stderr)
        return 1
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"nanograd demo: cannot create the output directory {str(args.out)!r}: {e}", file=sys.stderr)
        return 1
    start = time.perf_counter()
    X, y = demo.make_moons_data(n_samples=args.samples, seed=args.seed)
    model = demo.make_model(seed=args.seed)
    optimizer = demo.make_optimizer(args.optimizer, model.parameters(), args.steps)
    with tqdm(total=args.steps, desc=f"training ({args.engine})", unit="step") as bar:

        def on_step(k: int, loss: float, accuracy: float) -> None:
            bar.set_postfix(loss=f"{loss:.4f}", accuracy=f"{100 * accuracy:.0f}%", refresh=False)
            bar.update()

        history = demo.train(model, X, y, steps=args.steps, optimizer=optimizer, on_step=on_step, engine=args.engine)
    with no_grad():
        loss, accuracy = demo.loss_and_accuracy(model, X, y)
    print(f"final loss {loss.data:.4f}, accuracy {100 * accuracy:.1f}%")

    figures = {
        "moon_mlp.png": demo.plot_decision_boundary(model, X, y),
        "moon_mlp_training.png": demo.plot_history(history),
    }
    for name, fig in figures.items():
        demo.save_figure(fig, args.out / name)
        print(f"wrote {args.out / name}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``nanograd`` command with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    commands = {"demo": run_demo}
    return commands[args.command](args)
