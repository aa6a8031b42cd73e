#!/usr/bin/env python3
"""Which inputs the structured networks of a sweep cover, by input index, at every size n'.

For each job (training seed) of a sweep file, at its final step, over the posterior samples with
log10 beta <= --max-log10-beta, and for every size n' of the sweep:

  covered, trained / new inputs   the fraction of networks in which input i has a valley unit (the
                                  order parameters' rule, model.md §9: kappa_j > valley_kappa and
                                  c_j > valley_importance * max c), averaged over the indices the
                                  model was trained on (i < n) and over the new ones (i >= n);
  valley units per hidden unit    the share of hidden units j < m (trained) and j >= m (new) that
                                  are valley units;
  same input as at n              of the trained hidden units that are valley units both here and
                                  in the network generated at the training n with the same β and
                                  generation seed, the fraction pointing at the same input index.

A model whose hidden-to-input assignment is keyed to the identity features of the indices shows
trained inputs covered, new inputs uncovered, and the same input per hidden unit at every size.

Usage: transfer_coverage.py SWEEP.h5 [--max-log10-beta -5]
"""
import argparse
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (the same reader and thresholds as the report)


def valley_targets(w0, w1, kappa_min, importance):
    """The input each hidden unit points at, or -1 where it is not a valley unit (w0: [n][m])."""
    w0 = w0.astype(np.float64)
    w1 = w1.astype(np.float64)
    sq = w0 ** 2
    sum_sq = sq.sum(axis=0)
    target = np.abs(w0).argmax(axis=0)
    kappa = np.where(sum_sq > 0, sq[target, np.arange(w0.shape[1])] / np.where(sum_sq > 0, sum_sq, 1.0), 0.0)
    c = np.abs(w1) * np.sqrt(sum_sq)
    valley = (kappa > kappa_min) & (c > importance * c.max()) & (c > 0)
    return np.where(valley, target, -1)


def targets_by_record(sweep, f, size, row_of, records):
    """row_of: record index -> row of networks/n{size}."""
    group = f[f"networks/n{size}"]
    kappa, importance = sweep.thresholds["valley_kappa"], sweep.thresholds["valley_importance"]
    return {int(r): valley_targets(group["W0"][row_of[int(r)]], group["W1"][row_of[int(r)]], kappa, importance)
            for r in records}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweep")
    ap.add_argument("--max-log10-beta", type=float, default=-5.0)
    args = ap.parse_args()
    sweep = report.open_sweep_or_exit(args.sweep, "transfer_coverage.py")
    r, n = sweep.r, sweep.training_n
    ratio = int(sweep.deck.get("target", {}).get("hidden_ratio", 3))
    low = sweep.select(step=sweep.final_step, mean=False) & (r["log10_beta"] <= args.max_log10_beta + 1e-9)
    print(f"# {args.sweep}: trained at n = {n} (m = {ratio * n}), step {sweep.final_step}, posterior samples "
          f"with log10 beta <= {args.max_log10_beta:g}")
    print("job | n' | networks | covered: trained inputs, new inputs | valley units per hidden unit: trained, new "
          "| same input as at n (valley units in both)")
    with h5py.File(args.sweep, "r") as f:
        rows = {size: {int(k): row for row, k in enumerate(f[f"networks/n{size}"]["record"][()])}
                for size in sweep.sizes}
        for job_index, job in enumerate(sweep.jobs or ["job0"]):
            at_job = low & (r["job"] == job_index)
            reference_records = np.nonzero(at_job & (r["n"] == n))[0]
            reference = targets_by_record(sweep, f, n, rows[n], reference_records)
            key = lambda k: (round(float(r["log10_beta"][k]), 6), int(r["generation_seed"][k]))
            reference = {key(k): reference[int(k)] for k in reference_records}
            for size in sweep.sizes:
                records = np.nonzero(at_job & (r["n"] == size))[0]
                if len(records) == 0:
                    continue
                targets = targets_by_record(sweep, f, size, rows[size], records)
                m, m_trained = ratio * size, min(ratio * size, ratio * n)
                covered = np.zeros(size)
                valley_trained = valley_new = 0.0
                same = both = 0
                for k in records:
                    t = targets[int(k)]
                    covered[np.unique(t[t >= 0])] += 1
                    valley_trained += np.mean(t[:m_trained] >= 0)
                    valley_new += np.mean(t[m_trained:] >= 0) if m > m_trained else 0.0
                    if key(k) in reference:
                        ref, here = reference[key(k)][:m_trained], t[:m_trained]
                        in_both = (ref >= 0) & (here >= 0)
                        both += int(in_both.sum())
                        same += int((in_both & (ref == here)).sum())
                covered /= len(records)
                new = f"{covered[n:].mean():.2f}" if size > n else "-"
                new_units = f"{valley_new / len(records):.2f}" if m > m_trained else "-"
                agree = f"{same / both:.2f} of {both}" if both else "-"
                print(f"{job} | {size} | {len(records)} | {covered[:min(size, n)].mean():.2f}, {new} | "
                      f"{valley_trained / len(records):.2f}, {new_units} | {agree}")


if __name__ == "__main__":
    main()
