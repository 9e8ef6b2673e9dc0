"""Print the mutation score of each mutated module from mutmut's results under mutants/.

Usage: .venv/bin/python scripts/mutation_scores.py [--survivors] [--min PERCENT]

A mutant is *killed* when a test failed with it in place; a timeout counts (the mutant made
the tests hang, say a loop that never ends, so it was noticed) and is also shown on its own.
*Survived* means every test that reached the mutated function passed; *no tests* means no
selected test reached it at all (a gap, counted against the score). *Not run* means the last
run did not get to it (interrupted, or restricted to other modules). ``--min`` exits 1 if
any fully run module scores below PERCENT.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

MUTANTS = Path("mutants")
KILLED_CODES = {1, 3, 37}  # a test failed, pytest stopped with an error, the type check
TIMEOUT_CODES = {36, 24, -24, 152, 255}  # the tests ran out of time (or CPU) with it in place
SURVIVED_CODES = {0}
NO_TEST_CODES = {5, 33}


def module_results(meta: Path) -> dict[str, int | None]:
    with meta.open(encoding="utf-8") as handle:
        return json.load(handle)["exit_code_by_key"]


def summarise(codes: dict[str, int | None]) -> dict[str, int]:
    values = list(codes.values())
    killed = sum(code in KILLED_CODES | TIMEOUT_CODES for code in values)
    timeouts = sum(code in TIMEOUT_CODES for code in values)
    survived = sum(code in SURVIVED_CODES for code in values)
    no_tests = sum(code in NO_TEST_CODES for code in values)
    not_run = sum(code is None for code in values)
    other = len(values) - killed - survived - no_tests - not_run
    return {
        "mutants": len(values),
        "killed": killed,
        "timeouts": timeouts,
        "survived": survived,
        "no_tests": no_tests,
        "not_run": not_run,
        "other": other,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survivors", action="store_true", help="list every surviving mutant")
    parser.add_argument("--min", type=float, default=None, help="fail below this score")
    args = parser.parse_args()

    metas = sorted(MUTANTS.glob("portal/**/*.py.meta"))
    if not metas:
        print("No mutation results under mutants/: run `make mutation` first.", file=sys.stderr)
        return 2
    header = f"{'module':34} {'mutants':>7} {'killed':>7} {'(timeout)':>9} {'survived':>8} "
    header += f"{'no tests':>8} "
    header += f"{'not run':>7} {'score':>7}"
    print(header)
    print("-" * len(header))
    below, survivors, totals = [], [], dict.fromkeys(summarise({}), 0)
    for meta in metas:
        module = str(meta.relative_to(MUTANTS))[: -len(".meta")]
        codes = module_results(meta)
        if not codes:
            continue
        row = summarise(codes)
        for key, value in row.items():
            totals[key] += value
        run = row["mutants"] - row["not_run"]
        score = 100.0 * row["killed"] / run if run else 0.0
        shown = f"{score:6.1f}%" if run else "    n/a"
        print(
            f"{module:34} {row['mutants']:7} {row['killed']:7} {row['timeouts']:9} "
            f"{row['survived']:8} {row['no_tests']:8} {row['not_run']:7} {shown}"
        )
        if args.min is not None and run and not row["not_run"] and score < args.min:
            below.append(module)
        survivors += [
            name for name, code in codes.items() if code in SURVIVED_CODES | NO_TEST_CODES
        ]
    run = totals["mutants"] - totals["not_run"]
    print("-" * len(header))
    print(
        f"{'all':34} {totals['mutants']:7} {totals['killed']:7} {totals['timeouts']:9} "
        f"{totals['survived']:8} {totals['no_tests']:8} {totals['not_run']:7} "
        f"{(100.0 * totals['killed'] / run if run else 0.0):6.1f}%"
    )
    if args.survivors and survivors:
        print("\nSurvivors and untested mutants (`.venv/bin/mutmut show <name>` for the diff):")
        for name in sorted(survivors):
            print(f"  {name}")
    if below:
        print(f"\nBelow {args.min:g}%: {', '.join(below)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
