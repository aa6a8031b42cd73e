#!/usr/bin/env python3
"""When each training seed's low-β algorithm appears: the majority class of the posterior samples
at the lowest grid β (or --low-beta), at the training n, at every saved step a sweep evaluated.

  build/bin/hnet-python scripts/class_timeline.py results/run/sweep.h5 [more sweep.h5 ...]

One row per (sweep file, job): the class at each step (the majority over the generation seeds, as
seed_statistics.py and report.py take it; "a=b" for a tie), with the median normalised loss and the
median O₂ (the double-sided order parameter, model.md §8) of the same networks. A
sweep of every saved step needs `sweep.steps` listing them (hnet sweep evaluates every saved model
when it is empty) and, to keep it cheap, `sweep.sizes = []`; more saved models come from
`output.save_models`, which changes nothing in training.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (the same reader and majorities as the report)

SHORT = {"double-sided": "DS", "pudding-minus": "P-", "pudding-plus": "P+", "convexity": "conv", "trivial": "triv"}


def timeline(sweep, low_beta):
    r = sweep.r
    low = min(sweep.betas, key=lambda b: abs(b - low_beta)) if low_beta is not None else sweep.betas[0]
    steps = sorted(set(int(s) for s in r["step"][sweep.select(n=sweep.training_n)]))
    rows = []
    for job in sorted(set(int(j) for j in r["job"])):
        cells = []
        for step in steps:
            at = sweep.select(n=sweep.training_n, step=step) & (r["job"] == job) & ~r["posterior_mean"] \
                & (r["log10_beta"] == low)
            if not at.any():
                cells.append("-")
                continue
            text = report.majority_text(sweep, r["class"][at])
            for name, short in SHORT.items():
                text = text.replace(name, short)
            cells.append(f"{text} {report.median(r['normalised_loss'][at]):.3g} / {report.median(r['o2'][at]):.2f}")
        rows.append((sweep.job_name(job), cells))
    return low, steps, rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweeps", nargs="+")
    ap.add_argument("--low-beta", type=float, default=None, help="log10 β to read (default: the lowest grid β)")
    args = ap.parse_args(argv)
    try:
        for path in args.sweeps:
            sweep = report.Sweep(path)
            low, steps, rows = timeline(sweep, args.low_beta)
            print(f"{path}: majority class, median normalised loss / O2 at log10 β = {low:.2f}, n = {sweep.training_n}")
            print("| job | " + " | ".join(f"step {s}" for s in steps) + " |")
            print("|---|" + "---|" * len(steps))
            for name, cells in rows:
                print(f"| {name} | " + " | ".join(cells) + " |")
            print()
    except report.ReportError as e:
        print(f"class_timeline.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
