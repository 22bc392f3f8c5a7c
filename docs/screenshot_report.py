"""Screenshot an HTML report with headless Chromium, to look at a page as a reader will.

    python docs/screenshot_report.py report.html page.png                 # first 1400x1800 px
    python docs/screenshot_report.py report.html page.png --height 3000   # taller window
    python docs/screenshot_report.py report.html page.png --full-page     # the whole page

``--full-page`` measures the page height first (Chromium's ``--dump-dom`` after layout is not
enough, so the page is loaded once with a script that writes ``document.body.scrollHeight``
into the title) and then screenshots a window that tall, capped at ``--max-height``.
Chromium is looked up as ``chromium``, ``chromium-browser`` or ``google-chrome`` (Debian:
``apt-get install chromium``). Each run uses a fresh, temporary profile and no network.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio")


def find_browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    sys.exit(f"no Chromium found (tried {', '.join(BROWSERS)}); on Debian: apt-get install chromium")


def _run(browser: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="qcdgen-shot-") as profile:
        cmd = [browser, *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def page_height(browser: str, html: Path, width: int, timeout: float = 60.0) -> int:
    """Rendered height of ``html`` in px at ``width``: load a copy that prints its own height."""
    probe = ("<script>addEventListener('load', () => { document.title = 'HEIGHT=' + "
             "Math.ceil(document.documentElement.scrollHeight); });</script>")
    text = html.read_text(encoding="utf-8", errors="replace")
    with tempfile.TemporaryDirectory(prefix="qcdgen-probe-") as tmp:
        copy = Path(tmp) / "probe.html"
        copy.write_text(text.replace("</body>", probe + "</body>", 1), encoding="utf-8")
        done = _run(browser, [f"--window-size={width},1000", "--virtual-time-budget=5000", "--dump-dom",
                              copy.resolve().as_uri()], timeout)
    match = re.search(r"<title>HEIGHT=(\d+)</title>", done.stdout)
    if not match:
        sys.exit(f"could not measure the page height of {html} (chromium exit {done.returncode}): "
                 f"{done.stderr.strip()[-300:]}")
    return int(match.group(1))


def _fail(message: str) -> None:
    """Bad input: one line on stderr, exit status 2."""
    print(f"screenshot_report: error: {message}", file=sys.stderr)
    sys.exit(2)


def screenshot(html: str | Path, png: str | Path, width: int = 1400, height: int = 1800,
               full_page: bool = False, max_height: int = 16000, timeout: float = 60.0) -> Path:
    """Write a PNG of ``html`` as shown in a ``width`` x ``height`` window (or the whole page)."""
    html, png = Path(html).resolve(), Path(png).resolve()
    if not html.is_file():
        _fail(f"html file {html} does not exist")
    if not png.parent.is_dir():
        _fail(f"output directory {png.parent} does not exist")
    browser = find_browser()
    if full_page:
        height = min(page_height(browser, html, width, timeout), max_height)
    png.unlink(missing_ok=True)
    done = _run(browser, [f"--window-size={width},{height}", "--virtual-time-budget=5000",
                          f"--screenshot={png}", html.as_uri()], timeout)
    if not png.is_file():
        sys.exit(f"chromium wrote no screenshot (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", help="HTML file to open")
    parser.add_argument("png", help="PNG file to write")
    parser.add_argument("--width", type=int, default=1400, help="window width in px (default 1400)")
    parser.add_argument("--height", type=int, default=1800, help="window height in px (default 1800)")
    parser.add_argument("--full-page", action="store_true", help="make the window as tall as the page")
    parser.add_argument("--max-height", type=int, default=16000, help="cap of --full-page (default 16000)")
    args = parser.parse_args(argv)
    for name in ("width", "height", "max_height"):
        if getattr(args, name) < 100:
            parser.error(f"--{name.replace('_', '-')} must be >= 100, got {getattr(args, name)}")
    out = screenshot(args.html, args.png, args.width, args.height, args.full_page, args.max_height)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
