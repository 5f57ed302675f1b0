"""What every benchmark needs: a line about the machine, and its own section of
docs/benchmarks.md rewritten between its markers."""

import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    memory_kb = int(
        next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line)
    )
    return f"{os.cpu_count()} × {cpu}, {memory_kb / 1024 / 1024:.0f} GiB RAM, Python {platform.python_version()}"


def write_section(report: str, start: str, end: str) -> None:
    """Put `report` (which begins with `start` and ends with `end`) in place of the section
    between those markers, or at the end of the file the first time; print it too."""
    text = RESULTS.read_text(encoding="utf-8")
    if start in text:
        text = text[: text.index(start)] + report + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + report + "\n"
    RESULTS.write_text(text, encoding="utf-8")
    print(report)
