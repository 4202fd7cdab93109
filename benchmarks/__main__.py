"""Run the benchmarks: `python -m benchmarks [--quick] [NAME ...]`; prints a table of figures,
targets and whether each is met, and writes benchmarks/results/NAME.json."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback

from benchmarks.common import Figure, table

ALL = ("ingest", "sos", "rebuild", "fleet", "replay", "traccar", "merkle")
EXTRA = ("chaos", "arc", "nats_scale", "processes", "growth", "export", "pools")
"""Run only when named: they take services away or run for many minutes."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small and short: under two minutes each (chaos: ~4)"
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"some of: {' '.join(ALL)} (all by default); or {' '.join(EXTRA)}, only when named",
    )
    args = parser.parse_args(argv)
    known = (*ALL, *EXTRA)
    unknown = sorted(set(args.names) - set(known))
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)}; choose from {' '.join(known)}")
    names = args.names or list(ALL)
    rows: list[tuple[str, Figure]] = []
    failed = []
    for name in names:
        started = time.monotonic()
        print(f"== {name}{' (quick)' if args.quick else ''}", flush=True)
        try:
            result = importlib.import_module(f"benchmarks.{name}").run(args.quick)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        path = result.write()
        for figure in result.figures:
            rows.append((name, figure))
        print(table([(name, f) for f in result.figures]))
        print(f"   ({time.monotonic() - started:.0f} s; figures in {path})", flush=True)
    print()
    print(table(rows))
    if failed:
        print(f"\nfailed to run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
