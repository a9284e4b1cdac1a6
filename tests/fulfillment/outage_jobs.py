"""Jobs for the worker-outage test: importable by a real `rq worker` process."""

from __future__ import annotations

import time
from pathlib import Path


def touch_after(path: str, seconds: float) -> None:
    """Mark `path`.started, work for `seconds`, then mark `path` done."""
    Path(path + ".started").touch()
    time.sleep(seconds)
    Path(path).touch()
