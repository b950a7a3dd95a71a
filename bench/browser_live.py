"""Issue 20's name for bench/golive.py (going live from the browser, local mode): the same bench,
the same options (``--help``), the numbers in bench/README.md under "golive.py"."""

import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(str(Path(__file__).with_name("golive.py")), run_name="__main__")
