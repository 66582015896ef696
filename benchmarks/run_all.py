"""Run every side-by-side benchmark in this folder and write one markdown report.

Each benchmark is a module here with a `run() -> list[dict]` function returning table rows
(measured in one process, against the peer, with ratios). This script imports each, runs
it, prints its table and writes them all to benchmarks/RESULTS.md.

    python benchmarks/run_all.py                 # every benchmark
    python benchmarks/run_all.py ops_nms metrics # only modules whose name contains a word
"""

import importlib.util
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def markdown_table(rows: list[dict]) -> str:
    if not rows:
        return "(no rows)\n"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in (row.get(c, "") for c in columns)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(words: list[str]) -> int:
    import torch

    sections = [f"# Benchmark results\n\nMachine: {platform.processor() or platform.machine()}, "
                f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, "
                f"Python {platform.python_version()}. Ratios are ours / peer's time "
                f"(below 1.0 means we are faster), measured in one process.\n"]
    failures = 0
    for path in sorted(HERE.glob("*.py")):
        if path.name == Path(__file__).name or (words and not any(w in path.stem for w in words)):
            continue
        print(f"== {path.stem}", flush=True)
        start = time.perf_counter()
        try:
            rows = load(path).run()
        except Exception:
            failures += 1
            traceback.print_exc()
            sections.append(f"## {path.stem}\n\nFAILED:\n```\n{traceback.format_exc()}```\n")
            continue
        table = markdown_table(rows)
        print(table)
        sections.append(f"## {path.stem}\n\n({time.perf_counter() - start:.0f} s)\n\n{table}")
    out = HERE / "RESULTS.md"
    out.write_text("\n".join(sections))
    print(f"wrote {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
