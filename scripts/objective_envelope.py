#!/usr/bin/env python3
"""Which training seed's networks reach the lowest objective at each β (findings §9.8).

For every β of the grid and every training seed (job) of one or more sweep files: the objective
its networks reach, J = ln(L + β·D_KL) with the medians over the generation seeds of the raw loss L
and of D_KL (nats), posterior samples, final step, training n; and the majority class. The last
column names the seed with the lowest J. Within one seed the class follows the β order of the
report; across seeds this shows which algorithm the objective prefers at each β. Usage:

    build/bin/hnet-python scripts/objective_envelope.py RUN/sweep.h5 [RUN2/sweep.h5 ...] [--first-seed S]

Seeds are numbered from --first-seed (default 1), consecutively over the files in the order given
(parallel.seeds trains consecutive seeds).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (the same reader and majorities as the report)


def objectives(sweep, first_seed):
    """{log10 β: {seed: (J, class)}} of one sweep file."""
    r = sweep.r
    base = sweep.select(n=sweep.training_n, step=sweep.final_step) & ~r["posterior_mean"]
    out = {}
    for job in report.training_jobs(sweep):
        for beta in sweep.betas:
            at = base & (r["job"] == job) & (r["log10_beta"] == beta)
            if not at.any():
                continue
            J = float(np.log(report.median(r["loss"][at]) + 10.0 ** beta * report.median(r["kl_nats"][at])))
            out.setdefault(beta, {})[first_seed + int(job)] = (J, report.majority_text(sweep, r["class"][at]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweeps", nargs="+", help="sweep.h5 files")
    ap.add_argument("--first-seed", type=int, default=1, help="training seed of the first file's job 0")
    args = ap.parse_args()
    rows, seed = {}, args.first_seed
    for path in args.sweeps:
        sweep = report.open_sweep_or_exit(path, "objective_envelope.py")
        for beta, per_seed in objectives(sweep, seed).items():
            rows.setdefault(beta, {}).update(per_seed)
        seed += len(report.training_jobs(sweep))
    seeds = sorted({s for row in rows.values() for s in row})
    print("| log₁₀β | " + " | ".join(f"seed {s}" for s in seeds) + " | lowest J |")
    print("|---" * (len(seeds) + 2) + "|")
    for beta in sorted(rows):
        row = rows[beta]
        best = min(row, key=lambda s: row[s][0])
        cells = " | ".join(f"{row[s][0]:.2f} {row[s][1][:4]}" if s in row else "" for s in seeds)
        print(f"| {beta:.2f} | {cells} | seed {best}: {row[best][1]} |")


if __name__ == "__main__":
    main()
