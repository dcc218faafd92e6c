"""Write ``explore.png``: ``nanograd explore``'s page for the README's 2D neuron, part way through backprop.

Usage: ``python scripts/make_explore_screenshot.py [OUTPUT] [--chromium PATH]`` (default:
``explore.png`` at the repository root). Needs, from a checkout,
``pip install -e ".[viz]" --config-settings editable_mode=compat playwright``, Graphviz's
``dot`` and a Chromium installed by the system (``apt-get install chromium``); Playwright
drives that Chromium headless and downloads no browser.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright
from readme_neuron import labelled_neuron

from nanograd import explore
from nanograd.viz import walk

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "explore.png"
BACKWARD_STEPS = 3  # where the screenshot stops: three nodes into the backward pass


def main(argv: list[str] | None = None) -> None:
    """Build the seeded neuron, write its page, and photograph it in headless Chromium."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUTPUT, help="the PNG file to write")
    parser.add_argument("--chromium", default=shutil.which("chromium"), help="the Chromium executable")
    args = parser.parse_args(argv)
    if args.chromium is None:
        parser.error("no chromium on the PATH: install it (apt-get install chromium) or pass --chromium PATH")

    y = labelled_neuron()
    with tempfile.TemporaryDirectory() as tmp:
        page_file = explore(y, title="relu(w1*x1 + w2*x2 + b)").save(Path(tmp) / "neuron.html")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium)
            page = browser.new_page(viewport={"width": 1600, "height": 640})
            page.goto(page_file.resolve().as_uri())
            for _ in range(len(walk(y)) + BACKWARD_STEPS):  # the whole forward pass, then some
                page.keyboard.press("ArrowRight")
            page.screenshot(path=args.output)
            browser.close()
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
