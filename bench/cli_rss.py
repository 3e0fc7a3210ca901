"""Run `weighbridge ...` (the CLI) in this process and write its peak RSS to $BENCH_RSS_FILE.

A parent's wait4() ru_maxrss would also count the parent's RSS inherited at fork, so the
CLI's own VmHWM is read at exit instead.
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path


def _write_peak() -> None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            Path(os.environ["BENCH_RSS_FILE"]).write_text(str(int(line.split()[1]) / 1024))


if __name__ == "__main__":
    atexit.register(_write_peak)
    from weighbridge.cli.main import main

    main()
