#!/usr/bin/env python3
"""Write a small synthetic sweep file in the layout `hnet sweep` writes (<output.dir>/sweep.h5).

For testing `hnet draw` and scripts/report.py without training anything. The networks are
hand-built examples of each algorithm (model.md §9) with a little noise; the records carry
order parameters computed from those networks (§9.1) and made-up losses and D_KL. Nothing in it
is a result.

    build/bin/hnet-python tests/make_fake_sweep.py OUT.h5 --hnet build/bin/hnet [--deck FILE] [--n 8]
        [--steps 100,1000] [--sizes 4,12] [--seeds 2] [--jobs 1] [--betas 9] [--no-mean]
        [--classes LIST] [--job-file JOB.h5]

The columns of the records table are hnet's (`hnet sweep --list-fields`), not a list of this
script's: a column hnet adds that this script cannot fill is an error here, not a silent gap.

--classes restricts which algorithms appear (comma-separated class names); the β ranges of the
others fall back to the nearest allowed class, so a test can check a report with classes missing.
--job-file also writes a training job file with a made-up history/ group.
"""
import argparse
import math
import subprocess
import sys

import h5py
import numpy as np

CLASS_NAMES = ["trivial", "convexity", "double-sided", "pudding-minus", "pudding-plus"]

DEFAULT_DECK = """\
[task]
input = "normal"
target = "l1"
eval_size = 16384
eval_seed = 20231205
[target]
n = {n}
hidden_ratio = 3
[model]
d = 32
heads = 4
blocks = 2
latent = 4
readout = "edge_bilinear"
[train]
steps = {last_step}
batch_beta = 8
batch_x = 256
log10_beta_min = -7.0
log10_beta_max = 1.0
objective = "log_sum"
lr = 0.003
seed = 1
[sweep]
beta_points = {betas}
generation_seeds = {seeds}
sizes = [{sizes}]
steps = []
posterior_mean = {mean}
trivial_loss = 0.9
convexity_o1 = 0.35
double_sided_o2 = 0.5
pudding_o3 = 0.0
valley_kappa = 0.5
valley_importance = 0.05
[parallel]
mode = "seeds"
seeds = {jobs}
ranks_per_group = 1
[output]
dir = "results/fake"
"""


def build(kind, n, rng):
    """W0 [n][m], b0 [m], W1 [m], b1 for a noisy hand-built network of the given class."""
    m = 3 * n
    w0 = rng.normal(0.0, 0.05, size=(n, m))
    b0 = rng.normal(0.0, 0.05, size=m)
    w1 = rng.normal(0.0, 0.005, size=m)
    a = 8.0
    if kind == "double-sided":
        for i in range(n):
            w0[i, 2 * i], w0[i, 2 * i + 1] = a, -a
            w1[2 * i] = w1[2 * i + 1] = 1.0 / a
    elif kind in ("pudding-minus", "pudding-plus"):
        sign = 1.0 if kind == "pudding-minus" else -1.0
        for i in range(n):
            w0[i, i] = sign * a
            w1[i] = 2.0 / a
            w0[i, n] = -sign * 1.0
        b0[n], w1[n] = 20.0, 1.0
    elif kind == "convexity":
        # Dense weights of both signs and similar size: O1 well below the convexity threshold
        # even at small n, where Gaussian columns often have one dominant entry.
        w0 = rng.choice([-1.0, 1.0], size=(n, m)) * rng.uniform(0.7, 1.0, size=(n, m))
        w1 = np.abs(rng.normal(0.3, 0.05, size=m))
    else:  # trivial: next to nothing reaches the output
        w1 = rng.normal(0.0, 1e-3, size=m)
    return w0.astype(np.float32), b0.astype(np.float32), w1.astype(np.float32), np.float32(n * math.sqrt(2 / math.pi))


def order_parameters(w0, w1, kappa_min=0.5, importance_min=0.05):
    """O1, O2, O3, coverage, duplication, valley units of model.md §9.1."""
    w0 = w0.astype(np.float64)
    w1 = w1.astype(np.float64)
    n = w0.shape[0]
    norms = np.sqrt((w0 ** 2).sum(axis=0))
    c = np.abs(w1) * norms
    strongest = np.argmax(np.abs(w0), axis=0)
    top = w0[strongest, np.arange(w0.shape[1])]
    kappa = np.where(norms > 0, top ** 2 / np.maximum(norms ** 2, 1e-300), 1.0 / n)
    sign = np.sign(top)
    o1 = float((c * kappa).sum() / c.sum()) if c.sum() > 0 else 0.0
    valley = (kappa > kappa_min) & (c > importance_min * c.max()) if c.max() > 0 else np.zeros_like(c, bool)
    positive = {int(strongest[j]) for j in np.flatnonzero(valley & (sign > 0))}
    negative = {int(strongest[j]) for j in np.flatnonzero(valley & (sign < 0))}
    covered = positive | negative
    o2 = len(positive & negative) / n
    o3 = float((c[valley] * sign[valley]).sum() / c[valley].sum()) if valley.any() else 0.0
    duplication = valley.sum() / len(covered) if covered else 0.0
    return o1, o2, o3, len(covered) / n, float(duplication), int(valley.sum())


def classify(normalised, o1, o2, o3):
    if not normalised <= 0.9:
        return 0
    if o1 < 0.35:
        return 1
    if o2 > 0.5:
        return 2
    return 3 if o3 > 0 else 4


def intended_class(log10_beta, step_fraction, seed):
    """The made-up phase diagram: structure appears with training, ordered in β."""
    if step_fraction < 0.3:
        return "convexity" if log10_beta < 0 else "trivial"
    if log10_beta <= -4.5:
        return "double-sided"
    if log10_beta <= -2.0:
        return "pudding-plus" if seed % 2 else "pudding-minus"
    if log10_beta <= 0.0:
        return "convexity"
    return "trivial"


LOSS = {"double-sided": 0.01, "pudding-minus": 0.08, "pudding-plus": 0.1, "convexity": 0.35, "trivial": 1.3}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--hnet", required=True, help="the hnet executable, whose `sweep --list-fields` gives the columns")
    p.add_argument("--deck", help="resolved deck text to store (default: a small built-in one)")
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--steps", default="100,1000")
    p.add_argument("--sizes", default="4,12", help="generalisation sizes n' (besides n); empty for none")
    p.add_argument("--seeds", type=int, default=2, help="generation seeds")
    p.add_argument("--jobs", type=int, default=1, help="training jobs")
    p.add_argument("--betas", type=int, default=9)
    p.add_argument("--no-mean", action="store_true", help="no posterior-mean records")
    p.add_argument("--classes", default=",".join(CLASS_NAMES[1:]), help="algorithms allowed to appear")
    p.add_argument("--job-file", help="also write a training job file with a history/ group here")
    args = p.parse_args()

    steps = [int(s) for s in args.steps.split(",") if s]
    extra = [int(s) for s in args.sizes.split(",") if s and int(s) != args.n]
    allowed = [c for c in args.classes.split(",") if c]
    for c in allowed:
        if c not in CLASS_NAMES:
            sys.exit(f"unknown class {c}; one of {', '.join(CLASS_NAMES)}")
    fallback_order = ["double-sided", "pudding-minus", "pudding-plus", "convexity", "trivial"]

    def allowed_class(kind):
        if kind in allowed or kind == "trivial":
            return kind
        at = fallback_order.index(kind)
        return min((c for c in allowed), key=lambda c: abs(fallback_order.index(c) - at), default="trivial")

    log10_betas = np.linspace(-7.0, 1.0, args.betas) if args.betas > 1 else np.array([-3.0])
    rng = np.random.default_rng(12345)
    listed = subprocess.run([args.hnet, "sweep", "--list-fields"], stdout=subprocess.PIPE, check=True).stdout.decode()
    types = dict(line.split("\t")[:2] for line in listed.splitlines() if line)
    records = {k: [] for k in types}
    networks = {}

    def add(job, step, size, lb, seed, mean):
        kind = allowed_class(intended_class(lb, step / max(steps), seed + job))
        if mean and kind != "double-sided" and lb > -3:
            kind = "trivial"  # the posterior mean of a noise-made network builds nothing (model.md §11)
        w0, b0, w1, b1 = build(kind, size, rng)
        variance = size * (1 - 2 / math.pi)
        normalised = LOSS[kind] * (1 + 0.3 * abs(size - args.n) / args.n) * math.exp(rng.normal(0, 0.1))
        ops = order_parameters(w0, w1)
        bits = max(0.0, 2000.0 * 10 ** (-(lb + 7) / 2) * (size / args.n) * math.exp(rng.normal(0, 0.1)) - 1)
        net = networks.setdefault(size, {"W0": [], "b0": [], "W1": [], "b1": [], "record": []})
        record = len(records["job"])
        values = {"job": job, "step": step, "log10_beta": lb, "generation_seed": seed, "n": size, "m": 3 * size,
                  "posterior_mean": int(mean), "loss": normalised * variance, "normalised_loss": normalised,
                  "kl_nats": bits * math.log(2), "kl_bits": bits, "o1": ops[0], "o2": ops[1], "o3": ops[2],
                  "coverage": ops[3], "duplication": ops[4], "valley_units": ops[5],
                  "class": classify(normalised, *ops[:3]), "network_row": len(net["record"])}
        for key in records:
            if key not in values:
                sys.exit(f"make_fake_sweep.py: hnet's sweep records have a column '{key}' this script cannot fill")
            records[key].append(values[key])
        for key, value in [("W0", w0), ("b0", b0), ("W1", w1), ("b1", b1), ("record", record)]:
            net[key].append(value)

    means = [False] if args.no_mean else [False, True]
    for job in range(args.jobs):
        for step in steps:
            for size in [args.n] + (extra if step == max(steps) else []):
                for lb in log10_betas:
                    for mean in means:
                        for seed in range(args.seeds):
                            add(job, step, size, float(lb), seed, mean)

    deck = open(args.deck).read() if args.deck else DEFAULT_DECK.format(
        n=args.n, last_step=max(steps), betas=args.betas, seeds=args.seeds, jobs=args.jobs,
        sizes=", ".join(str(s) for s in extra), mean="false" if args.no_mean else "true")
    with h5py.File(args.out, "w") as f:
        f.attrs["hnet_version"] = "0.1.0 (fake sweep from tests/make_fake_sweep.py)"
        f.attrs["git_hash"] = "fake"
        f.attrs["deck"] = deck
        f.attrs["jobs"] = "\n".join(f"seed{j}" for j in range(args.jobs))
        f.attrs["class_names"] = "\n".join(CLASS_NAMES)
        f.attrs["commands"] = "hnet train fake.toml\nhnet sweep fake.toml"
        for key, values in records.items():
            f.create_dataset("records/" + key, data=np.array(values, dtype=np.dtype(types[key])))
        f["records"].attrs["fields"] = "\n".join(records)
        for size, net in networks.items():
            g = f"networks/n{size}/"
            f.create_dataset(g + "W0", data=np.array(net["W0"], dtype=np.float32))
            f.create_dataset(g + "b0", data=np.array(net["b0"], dtype=np.float32))
            f.create_dataset(g + "W1", data=np.array(net["W1"], dtype=np.float32))
            f.create_dataset(g + "b1", data=np.array(net["b1"], dtype=np.float32))
            f.create_dataset(g + "record", data=np.array(net["record"], dtype=np.int64))
        f.create_dataset("grid/log10_beta", data=np.asarray(log10_betas, dtype=np.float64))
        f.create_dataset("grid/steps", data=np.array(steps, dtype=np.int64))
        f.create_dataset("grid/sizes", data=np.array(sorted([args.n] + extra), dtype=np.int64))
        f.create_dataset("grid/generation_seeds", data=np.arange(args.seeds, dtype=np.int64))
    print(f"wrote {args.out}: {len(records['job'])} records, sizes {sorted(networks)}, steps {steps}")
    if args.job_file:
        write_job_file(args.job_file, deck, max(steps), rng)
        print(f"wrote {args.job_file}")


def write_job_file(path, deck, last_step, rng):
    step = np.arange(1, last_step + 1, dtype=np.int64)
    upper = np.clip(-6.0 + 7.0 * (step - 0.3 * last_step) / (0.3 * last_step), -6.0, 1.0)
    normalised = 0.02 + 0.5 * np.exp(-step / (0.2 * last_step)) * np.exp(rng.normal(0, 0.1, step.size))
    kl = 3000.0 * np.exp(-step / (0.4 * last_step)) + rng.uniform(0, 5, step.size)
    with h5py.File(path, "w") as f:
        f.attrs["hnet_version"] = "0.1.0 (fake job file from tests/make_fake_sweep.py)"
        f.attrs["deck"] = deck
        f.attrs["job"] = "seed0"
        f.attrs["kind"] = "results"
        f.create_dataset("history/step", data=step)
        f.create_dataset("history/normalised_loss", data=normalised)
        f.create_dataset("history/loss", data=normalised * 8 * (1 - 2 / math.pi))
        f.create_dataset("history/kl", data=kl)
        f.create_dataset("history/log10_beta_upper", data=upper)


if __name__ == "__main__":
    main()
