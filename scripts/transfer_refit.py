#!/usr/bin/env python3
"""Is a network's failure at an unseen size n' only its output offset and scale?

For each job (training seed) of a sweep file, at its final step, over the posterior samples in a
β range, the median normalised loss at every size n' relative to the training n, computed three
ways on fresh inputs of the deck's task (normal inputs, target ‖x‖₁): as generated; after
refitting the output bias b1 (the best constant shift); after refitting the output's scale and
bias (least squares of y on [prediction, 1]). If the refits bring n' to the training n's loss, the
algorithm itself carries over and only the output layer's dependence on n is missing.

Usage: transfer_refit.py SWEEP.h5 [--min-log10-beta B] [--max-log10-beta B] [--inputs 4096]
"""
import argparse
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (the same reader as the report)


def swish(z):
    return z / (1.0 + np.exp(-z))


def losses(group, row, x, y):
    """Normalised loss as generated, with b1 refitted, with the output's scale and b1 refitted."""
    w0, b0 = group["W0"][row].astype(np.float64), group["b0"][row].astype(np.float64)
    w1, b1 = group["W1"][row].astype(np.float64), float(group["b1"][row])
    prediction = swish(x @ w0 + b0) @ w1 + b1
    error, variance = y - prediction, y.var()
    design = np.vstack([prediction, np.ones_like(prediction)]).T
    coefficients = np.linalg.lstsq(design, y, rcond=None)[0]
    return (np.mean(error ** 2) / variance, error.var() / variance,
            np.mean((y - design @ coefficients) ** 2) / variance)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweep")
    ap.add_argument("--min-log10-beta", type=float, default=-100.0)
    ap.add_argument("--max-log10-beta", type=float, default=100.0)
    ap.add_argument("--inputs", type=int, default=4096)
    args = ap.parse_args()
    sweep = report.open_sweep_or_exit(args.sweep, "transfer_refit.py")
    r, n = sweep.r, sweep.training_n
    if sweep.deck.get("task", {}).get("input", "normal") != "normal" or sweep.deck.get("task", {}).get("target", "l1") != "l1":
        sys.exit("transfer_refit.py: only the reference task (normal inputs, target l1) is implemented")
    chosen = (sweep.select(step=sweep.final_step, mean=False) & (r["log10_beta"] >= args.min_log10_beta - 1e-9) &
              (r["log10_beta"] <= args.max_log10_beta + 1e-9))
    rng = np.random.default_rng(20231205)
    medians = {}
    with h5py.File(args.sweep, "r") as f:
        for size in sweep.sizes:
            group = f[f"networks/n{size}"]
            row_of = {int(k): row for row, k in enumerate(group["record"][()])}
            x = rng.standard_normal((args.inputs, size))
            y = np.abs(x).sum(axis=1)
            for job in range(len(sweep.jobs or ["job0"])):
                records = np.nonzero(chosen & (r["job"] == job) & (r["n"] == size))[0]
                if len(records):
                    values = np.array([losses(group, row_of[int(k)], x, y) for k in records])
                    medians[(job, size)] = (np.median(values, axis=0), len(records))
    print(f"# {args.sweep}: step {sweep.final_step}, posterior samples with log10 beta in "
          f"[{args.min_log10_beta:g}, {args.max_log10_beta:g}]; loss at n' / loss at n = {n} (medians)")
    print("job | n' | networks | as generated | b1 refitted | scale and b1 refitted")
    for (job, size), (values, count) in sorted(medians.items()):
        if size == n or (job, n) not in medians:
            continue
        base = medians[(job, n)][0]
        name = sweep.jobs[job] if sweep.jobs else f"job{job}"
        print(f"{name} | {size} | {count} | {values[0] / base[0]:.1f}x | {values[1] / base[1]:.1f}x | "
              f"{values[2] / base[2]:.1f}x  (at n: {base[0]:.4f})")


if __name__ == "__main__":
    main()
