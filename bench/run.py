"""Run every benchmark in bench/ (files named bench_*.py), one after another.

Each benchmark is a script that measures one target and rewrites its own section of
docs/benchmarks.md with the command, the machine and the figures.
"""

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main() -> int:
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if not scripts:
        print("bench: no benchmarks yet.")
        return 0
    failed = [
        script.name for script in scripts if subprocess.run([sys.executable, str(script)], check=False).returncode
    ]
    if failed:
        print(f"bench: failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
