"""The long fuzzing run: thousands of mutated files per format through `graphscope`, counted
per outcome (see tests/zoo/fuzz_runner.py), and the table written into docs/reliability.md.

Each case must end as `ok` or a clean one-line `error` (exit 2); anything else (internal
error, hang past 30 s, over 2 GiB resident, a dead process) is a bug, and the file that caused
it is kept in --keep for a regression test.

Usage: python benchmarks/fuzz.py [--cases 1000] [--formats onnx,h5,...] [--seed 0]
                                 [--keep DIR] [--write docs/reliability.md]
"""
from __future__ import annotations

import argparse
import importlib.util
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.zoo.fuzz_runner import fuzz  # noqa: E402
from tests.zoo.fuzz_seeds import FORMATS  # noqa: E402

OUTCOMES = ("ok", "error", "internal", "hang", "oom", "crash")
BEGIN, END = "<!-- fuzz table: begin -->", "<!-- fuzz table: end -->"


HEAD = "| format | cases | " + " | ".join(OUTCOMES) + " | s/case | peak RSS |"


def rows_of(reports, seed: int) -> dict[str, str]:
    """One table row per format, keyed by format."""
    out = {}
    for r in reports:
        n = sum(r.counts.values())
        out[r.fmt] = (f"| {r.fmt} | {n} | " + " | ".join(str(r.counts.get(o, 0))
                                                     for o in OUTCOMES)
                      + f" | {r.seconds / max(n, 1):.3f} | {r.peak_rss / 2**20:.0f} MiB "
                      f"| seed {seed} |")
    return out


def table(rows: dict[str, str]) -> str:
    """The markdown table over every format's latest row, with a line of totals."""
    order = [f for f in FORMATS if f in rows] + sorted(set(rows) - set(FORMATS))
    lines = [HEAD + " run |", "|" + "---|" * (len(OUTCOMES) + 5)]
    lines += [rows[f] for f in order]
    cells = [rows[f].strip("|").split("|") for f in order]
    total = sum(int(c[1]) for c in cells)
    bad = sum(int(c[k]) for c in cells for k in range(4, 2 + len(OUTCOMES)))
    lines += ["", f"{total} cases over {len(order)} formats, {bad} not clean "
              f"({platform.machine()}, Python {platform.python_version()}). Each row is the "
              f"latest run of its format: `python benchmarks/fuzz.py --cases 1000 --write "
              f"docs/reliability.md [--formats ...]`."]
    return "\n".join(lines)


def read_rows(path: Path) -> dict[str, str]:
    """The rows already in the doc's table (formats not run now keep theirs)."""
    doc = path.read_text() if path.exists() else ""
    if BEGIN not in doc or END not in doc:
        return {}
    block = doc[doc.index(BEGIN) + len(BEGIN):doc.index(END)]
    return {line.split("|")[1].strip(): line for line in block.splitlines()
            if line.startswith("| ") and not line.startswith("| format")}


def write_doc(path: Path, text: str) -> None:
    doc = path.read_text() if path.exists() else ""
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in doc and END in doc:
        doc = doc[:doc.index(BEGIN)] + block + doc[doc.index(END) + len(END):]
    else:
        doc = doc + ("\n" if doc else "") + block + "\n"
    path.write_text(doc)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=Path("fuzz-failures"),
                    help="where the files that failed are kept")
    ap.add_argument("--write", type=Path, help="update the table in this markdown file")
    args = ap.parse_args()
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.formats.split(","):
            needs = FORMATS[fmt].needs
            if needs and importlib.util.find_spec(needs) is None:
                print(f"{fmt}: skipped ({needs} not installed)", flush=True)
                continue
            seed_dir = Path(tmp) / "seeds" / fmt
            seed_dir.mkdir(parents=True)
            seed = FORMATS[fmt].build(seed_dir)
            r = fuzz(fmt, seed, args.cases, Path(tmp) / "work" / fmt, seed_value=args.seed,
                     keep_failures=args.keep)
            reports.append(r)
            print(f"{fmt:12s} " + " ".join(f"{o}={r.counts.get(o, 0)}" for o in OUTCOMES)
                  + f"  {r.seconds:.0f} s", flush=True)
            for path, outcome, message in r.failures[:10]:
                print(f"    {outcome}: {message} ({path})", flush=True)
    rows = read_rows(args.write) if args.write else {}
    rows.update(rows_of(reports, args.seed))
    text = table(rows)
    print(text)
    if args.write:
        write_doc(args.write, text)
    return 1 if any(r.bad for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
