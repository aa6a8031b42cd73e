#!/usr/bin/env python3
"""What fraction of training seeds reaches each result, from one or more sweep files.

For every training job (seed) of each sweep, at its final step and training n, over the posterior
samples of every generation seed (the majority class at each β, as in report.py):

  structured low β  the majority class at the lowest grid β (or at --low-beta) is double-sided or
                    pudding, its median normalised loss is below --structured-loss (0.05), and the
                    posterior mean's median loss is within 2x of the sample's;
  three phases      double-sided, pudding and convexity each hold the majority on at least
                    --min-points (2) grid points, and the β-ordering of report.py holds (no family
                    is followed by a lower one as β rises; ties between families are left out);
  generalisation    for every other size n' of the sweep, the median over β of
                    loss(n') / loss(training n), separately over the β points whose training-n
                    majority is structured (double-sided or pudding) and over those that are
                    convexity.

Usage: seed_statistics.py SWEEP.h5 [SWEEP.h5 ...] [--low-beta -7] [--markdown OUT.md]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (the same reader, majorities and ordering as the report)

STRUCTURED = {"double-sided", "pudding-minus", "pudding-plus"}


def job_statistics(sweep, job, low_beta, structured_loss, min_points):
    r = sweep.r
    base = sweep.select(n=sweep.training_n, step=sweep.final_step) & (r["job"] == job)
    sample, mean = base & ~r["posterior_mean"], base & r["posterior_mean"]
    grid = sweep.betas
    low = min(grid, key=lambda b: abs(b - low_beta)) if low_beta is not None else grid[0]

    at_low = sample & (r["log10_beta"] == low)
    low_code, _, low_tied = report.majority(sweep, r["class"][at_low])
    low_class = report.majority_text(sweep, r["class"][at_low])
    low_loss = report.median(r["normalised_loss"][at_low])
    low_mean_loss = report.median(r["normalised_loss"][mean & (r["log10_beta"] == low)])
    structured = (low_code is not None and len(low_tied) == 1 and sweep.class_name(low_code) in STRUCTURED
                  and low_loss < structured_loss
                  and (not np.isfinite(low_mean_loss) or low_mean_loss <= 2.0 * low_loss))

    majorities, _ = report.ordering_majorities(sweep, sample)
    families = {}
    for b, code in majorities:
        family = report.FAMILY.get(sweep.class_name(code))
        if family is not None:
            families.setdefault(family, []).append(b)
    sequence = [report.FAMILY[sweep.class_name(c)] for _, c in majorities if sweep.class_name(c) in report.FAMILY]
    ordered = all(sequence[k + 1] >= sequence[k] for k in range(len(sequence) - 1))
    three = ordered and all(len(families.get(f, [])) >= min_points for f in (0, 1, 2))
    phases = " → ".join(f"{report.FAMILY_NAME[f]} ({len(families[f])})" for f in sorted(families)) or "–"
    if not ordered:
        phases += " (out of order)"

    ratios = {}
    majority_at = {b: sweep.class_name(c) for b, c in majorities}
    for n in sweep.sizes:
        if n == sweep.training_n:
            continue
        other = sweep.select(n=n, step=sweep.final_step, mean=False) & (r["job"] == job)
        for kind, names in (("structured", STRUCTURED), ("convexity", {"convexity"})):
            values = []
            for b in grid:
                if majority_at.get(b) not in names:
                    continue
                here = report.median(r["normalised_loss"][sample & (r["log10_beta"] == b)])
                there = report.median(r["normalised_loss"][other & (r["log10_beta"] == b)])
                if np.isfinite(here) and np.isfinite(there) and here > 0:
                    values.append(there / here)
            ratios[(n, kind)] = float(np.median(values)) if values else float("nan")
    return {"job": sweep.job_name(job), "low": low, "low_class": low_class, "low_loss": low_loss,
            "low_mean_loss": low_mean_loss, "structured": structured, "phases": phases, "three": three,
            "ratios": ratios}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweeps", nargs="+")
    parser.add_argument("--low-beta", type=float, default=None,
                        help="log10 β of the low-β test (default: the lowest grid β)")
    parser.add_argument("--structured-loss", type=float, default=0.05)
    parser.add_argument("--min-points", type=int, default=2)
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args(argv)

    rows, stats = [], []
    sizes = set()
    for path in args.sweeps:
        sweep = report.open_sweep_or_exit(path, "seed_statistics.py")
        for job in report.training_jobs(sweep):
            s = job_statistics(sweep, job, args.low_beta, args.structured_loss, args.min_points)
            s["sweep"] = os.path.basename(os.path.dirname(os.path.abspath(path)))
            stats.append(s)
            sizes.update(n for n, _ in s["ratios"])
    sizes = sorted(sizes)
    header = (["run", "job", "log₁₀β", "class", "loss (sample / mean)", "structured", "phases (grid points)",
               "three in order"]
              + [f"n′={n} / n, {kind}" for n in sizes for kind in ("structured", "convexity")])
    for s in stats:
        rows.append([s["sweep"], s["job"], f"{s['low']:.2f}", s["low_class"],
                     f"{report.fmt(s['low_loss'])} / {report.fmt(s['low_mean_loss'])}",
                     "yes" if s["structured"] else "no", s["phases"], "yes" if s["three"] else "no"]
                    + [report.fmt(s["ratios"].get((n, kind), float("nan"))) for n in sizes
                       for kind in ("structured", "convexity")])
    total = len(stats)
    text = report.table(header, rows) + "\n\n"
    text += (f"structured low β: {sum(s['structured'] for s in stats)} of {total} seeds; "
             f"double-sided → pudding → convexity: {sum(s['three'] for s in stats)} of {total} seeds\n")
    print(text, end="")
    if args.markdown:
        with open(args.markdown, "w") as out:
            out.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
