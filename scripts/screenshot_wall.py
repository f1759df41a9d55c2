#!/usr/bin/env python3
"""Screenshot a running wall page with headless Chromium (for the README and for checks).

Usage: .venv/bin/python scripts/screenshot_wall.py --url http://127.0.0.1:8080 --token TOKEN
       [--out docs/img/wall.png] [--size 1920x1080] [--lang vi|en] [--settle 3]
The page is opened with the token in the URL fragment (never sent to the server), given time to
receive its snapshot, and captured at exactly the requested size.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ioc.api.browser import Chromium, png_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the API's base URL")
    parser.add_argument("--token", required=True, help="a viewer token")
    parser.add_argument("--out", type=Path, default=Path("docs/img/wall.png"))
    parser.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT in CSS pixels")
    parser.add_argument("--lang", choices=("vi", "en"), default="vi")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds to wait after the live feed connects")
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.lower().split("x"))
    query = "?lang=en" if args.lang == "en" else ""
    with Chromium(width, height) as browser:
        browser.open(f"{args.url.rstrip('/')}/wall{query}#token={args.token}")
        browser.wait_for("document.querySelector('#conn').dataset.state === 'live'", 30)
        time.sleep(args.settle)
        png = browser.screenshot(args.out)
    print(f"wrote {args.out} ({png_size(png)[0]}x{png_size(png)[1]}, {len(png):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
