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


def table(reports, cases: int, seed: int) -> str:
    head = "| format | cases | " + " | ".join(OUTCOMES) + " | s/case | peak RSS |"
    rows = [head, "|" + "---|" * (len(OUTCOMES) + 4)]
    for r in reports:
        n = sum(r.counts.values())
        rows.append(f"| {r.fmt} | {n} | " + " | ".join(str(r.counts.get(o, 0)) for o in OUTCOMES)
                    + f" | {r.seconds / max(n, 1):.3f} | {r.peak_rss / 2**20:.0f} MiB |")
    total = sum(sum(r.counts.values()) for r in reports)
    bad = sum(r.bad for r in reports)
    rows.append("")
    rows.append(f"{total} cases, {bad} not clean; {cases} requested per format, mutation seed "
                f"{seed}; {platform.machine()}, Python {platform.python_version()}. Written by "
                f"`python benchmarks/fuzz.py --cases {cases} --write docs/reliability.md`.")
    return "\n".join(rows)


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
    text = table(reports, args.cases, args.seed)
    print(text)
    if args.write:
        write_doc(args.write, text)
    return 1 if any(r.bad for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
