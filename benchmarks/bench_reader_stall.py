"""Reader stall (issue 10, item 5): can an account key stall the venue by reading history?

    python benchmarks/bench_reader_stall.py [--quick]

Runs ``solvent.bench.bench_reader_stall`` (also ``solvent bench reader_stall``): a venue with
300,000 commands behind it (30,000 with ``--quick``), operator deposit latency with no reader
and while one account key reads history, events, fund and state at its full rate limit. Prints
each percentile, idle and loaded, and their ratio (target for p99: ≤ 3×).
"""

from __future__ import annotations

import sys

from solvent.bench.bench_reader_stall import reader_stall

TARGET_RATIO = 3.0


def main(argv: list[str]) -> int:
    results = reader_stall("--quick" in argv)
    for r in results:
        print(f"{r.name}: idle {r.baseline_value:.2f} ms, loaded {r.value:.2f} ms, ratio {r.ratio:.2f}x")
    print(results[-1].detail)
    p99 = next(r for r in results if r.name.endswith(".p99"))
    verdict = "met" if p99.ratio <= TARGET_RATIO else "MISSED"
    print(f"p99 ratio {p99.ratio:.2f}x (target <= {TARGET_RATIO:g}x): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
