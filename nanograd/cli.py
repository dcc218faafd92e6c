"""The ``nanograd`` command line: ``nanograd demo`` trains the moons classifier, ``nanograd explore``
writes an interactive page of an expression's graph.

Also run as ``python -m nanograd``. ``main`` returns the exit status. A bare ``nanograd``
prints the help to stderr and exits with status 2, as for any other missing argument;
``nanograd --help`` prints it to stdout with status 0. Bad options print the usage of the
command they were given to (``nanograd explore --frob`` shows ``nanograd explore``'s) and
exit with status 2. Other failures print one line to stderr, never a traceback: 1 for an
error (e.g. an output directory that cannot be written, found before training starts, or
no Graphviz ``dot`` program), 130 for Ctrl-C, 141 when the reader of the output went away
(``nanograd demo | head -1``), as a shell reports a SIGPIPE.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from ._io import check_replaceable, check_writable
from .grad_mode import no_grad

# From a checkout: on PyPI the name nanograd belongs to an unrelated project.
DEMO_EXTRAS_HINT = 'pip install -e ".[demo]" --config-settings editable_mode=compat in a nanograd checkout'
VIZ_EXTRAS_HINT = 'pip install -e ".[viz]" --config-settings editable_mode=compat in a nanograd checkout'
#: The images ``nanograd demo`` writes into its output directory: the decision boundary, the training curves.
DEMO_IMAGES = ("moon_mlp.png", "moon_mlp_training.png")

#: Exit statuses as a shell reports death by SIGINT (Ctrl-C) and SIGPIPE: 128 + signal number.
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

#: Seeds scikit-learn and numpy accept: 0 <= seed < 2**32.
SEED_LIMIT = 2**32


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is not positive")
    return n


def _seed(text: str) -> int:
    """argparse type: an integer seed from 0 to 2**32 - 1."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= n < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"{n} is out of range: a seed is an integer from 0 to {SEED_LIMIT - 1}")
    return n


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``nanograd`` command."""
    parser = argparse.ArgumentParser(
        prog="nanograd", description="nanograd: a scalar autodiff engine and a small neural-net library."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
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
        type=_seed,
        default=1337,
        metavar="SEED",
        help=f"seed of the data set and of the weight initialisation, 0 to {SEED_LIMIT - 1} (default: 1337)",
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
    _add_explore_parser(commands)
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
    try:
        check_writable(args.out)  # read-only or full: say so now, not after training
        for name in DEMO_IMAGES:
            check_replaceable(args.out / name)  # a FIFO or device there is refused, never replaced
    except OSError as e:
        print(
            f"nanograd demo: cannot write to the output directory {str(args.out)!r}: {e.strerror or e}", file=sys.stderr
        )
        return 1
    start = time.perf_counter()
    X, y = demo.make_moons_data(n_samples=args.samples, seed=args.seed)
    model = demo.make_model(seed=args.seed)
    optimizer = demo.make_optimizer(args.optimizer, model.parameters(), args.steps)
    with tqdm(total=args.steps, desc=f"training ({args.engine})", unit="step") as bar:

        def show(loss: float, accuracy: float) -> None:
            bar.set_postfix(loss=f"{loss:.4f}", accuracy=f"{100 * accuracy:.1f}%", refresh=False)

        def on_step(k: int, loss: float, accuracy: float) -> None:
            show(loss, accuracy)
            bar.update()

        history = demo.train(model, X, y, steps=args.steps, optimizer=optimizer, on_step=on_step, engine=args.engine)
        with no_grad():
            loss, accuracy = demo.loss_and_accuracy(model, X, y)
        # A step reports the loss before its update; the bar ends on the trained model's, printed below.
        show(loss.data, accuracy)
    print(f"final loss {loss.data:.4f}, accuracy {100 * accuracy:.1f}%")

    figures = dict(zip(DEMO_IMAGES, (demo.plot_decision_boundary(model, X, y), demo.plot_history(history))))
    for name, fig in figures.items():
        try:
            demo.save_figure(fig, args.out / name)
        except OSError as e:  # e.g. the disk filled up during training
            print(f"nanograd demo: cannot write {str(args.out / name)!r}: {e.strerror or e}", file=sys.stderr)
            return 1
        print(f"wrote {args.out / name}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


def _assignment(text: str) -> tuple[str, float]:
    """argparse type: ``NAME=VALUE``."""
    from .expr import ExpressionError, parse_assignment

    try:
        return parse_assignment(text)
    except ExpressionError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_explore_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    explore = commands.add_parser(
        "explore",
        help="write an interactive page stepping through the forward and backward pass of an expression",
        description="Build the graph of EXPRESSION, backpropagate, and write one self-contained HTML page "
        "(no network needed) that steps through the forward and backward pass. The expression may use "
        "numbers, the names given as NAME=VALUE, + - * / **, unary minus, parentheses and unary op methods "
        "such as .tanh(); it is parsed, never evaluated; numbers are constants. Needs the graphviz Python "
        f"package ({VIZ_EXTRAS_HINT}) and Graphviz's dot program.",
        epilog='example: nanograd explore "(a*b + c).tanh()" a=2 b=-3 c=10 --out graph.html '
        '(put -- before an expression that starts with a minus sign: nanograd explore -- "-a*b" a=1 b=2)',
    )
    explore.add_argument("expression", metavar="EXPRESSION", help='for example "(a*b + c).tanh()"')
    explore.add_argument("variables", nargs="*", type=_assignment, metavar="NAME=VALUE", help="the named inputs")
    explore.add_argument(
        "--out", type=Path, default=Path("graph.html"), metavar="FILE", help="the page to write (default: graph.html)"
    )
    explore.add_argument("--open", action="store_true", help="open the page in a web browser")
    explore.add_argument(
        "--max-nodes", type=_positive_int, default=150, metavar="N", help="the most values to show (default: 150)"
    )


def run_explore(args: argparse.Namespace) -> int:
    """Write the page of ``nanograd explore``; returns the exit status (2 for a rejected expression)."""
    import webbrowser

    from .expr import ExpressionError, build

    names = [name for name, _ in args.variables]
    repeated = sorted({name for name in names if names.count(name) > 1})
    try:
        if repeated:
            raise ExpressionError(f"{', '.join(repeated)} given more than once")
        y = build(args.expression, dict(args.variables))
    except ExpressionError as e:
        print(f"nanograd explore: {e}", file=sys.stderr)
        return 2
    try:
        from .explorer import explore
        from .render import DrawingError, import_graphviz

        graphviz = import_graphviz()
    except ImportError:
        print(f"nanograd explore needs the graphviz Python package: {VIZ_EXTRAS_HINT}", file=sys.stderr)
        return 1
    try:
        page = explore(y, title=args.expression, max_nodes=args.max_nodes)
        page.save(args.out)
    except OSError as e:  # the path asked for, never the temporary file written first
        print(f"nanograd explore: cannot write {str(args.out)!r}: {e.strerror or e}", file=sys.stderr)
        return 1
    except (graphviz.ExecutableNotFound, DrawingError, ArithmeticError, ValueError) as e:
        print(f"nanograd explore: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    if args.open and not webbrowser.open(args.out.resolve().as_uri()):
        print(f"no web browser found: open {args.out} yourself", file=sys.stderr)
    return 0


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The parser of ``nanograd COMMAND``."""
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub: argparse.ArgumentParser = commands.choices[command]
    return sub


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``nanograd`` command with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if unknown:  # reported by the command's own parser, so the usage shown is the command's
        _subparser(parser, args.command).error(f"unrecognized arguments: {' '.join(unknown)}")
    commands = {"demo": run_demo, "explore": run_explore}
    try:
        status = commands[args.command](args)
        sys.stdout.flush()  # a closed pipe fails here, not in an "Exception ignored" message at exit
    except KeyboardInterrupt:
        print("nanograd: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Point stdout at /dev/null so the final flush at exit finds nowhere to fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        with contextlib.suppress(OSError):  # stderr may be the same closed pipe
            print("nanograd: standard output was closed early (broken pipe)", file=sys.stderr)
        return EXIT_BROKEN_PIPE
    return status
