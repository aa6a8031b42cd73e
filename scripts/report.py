#!/usr/bin/env python3
"""Plots and a markdown report from a sweep file (hnet sweep's <output.dir>/sweep.h5).

    build/bin/hnet-python scripts/report.py SWEEP [--out DIR] [--drawings FILES...] [--training JOB.h5 ...]

Writes into DIR (default: the directory of SWEEP):
  loss_kl_vs_beta.png    normalised loss and D_KL (bits) against log10 beta, final step, training n
  phase_diagram.png      majority class over (log10 beta, training step) at the training n
  order_parameters.png   O1 against O2 and O3, coloured by class
  generalisation.png     normalised loss and class against n'
  training_curve.png     history of the training job files, if --training is given
  report.md              what was run, the beta table, the classes found, per training seed (when the
                         sweep holds several jobs), generalisation, links

Needs h5py, numpy and matplotlib (Debian: python3-h5py, python3-matplotlib); build/bin/hnet-python
is the interpreter CMake found with them. Everything reported comes from the records in the file: classes that do not
occur are said not to occur, never filled in.
"""
import argparse
import glob
import math
import os
import sys
from collections import Counter

import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

import h5py  # noqa: E402

try:
    import tomllib
except ImportError:  # Python < 3.11: the deck summary falls back to the defaults
    tomllib = None

DPI = 150
CLASS_COLOURS = {
    "trivial": "#9e9e9e",
    "convexity": "#ff7f0e",
    "double-sided": "#2ca02c",
    "pudding-minus": "#1f77b4",
    "pudding-plus": "#9467bd",
}
EXTRA_COLOURS = ["#8c564b", "#e377c2", "#bcbd22", "#17becf", "#d62728"]
# Expected β order of the algorithm families (model.md §9): double-sided at low β, pudding in
# the middle, convexity at high β. trivial is no algorithm and takes no part in the ordering.
FAMILY = {"double-sided": 0, "pudding-minus": 1, "pudding-plus": 1, "convexity": 2}
FAMILY_NAME = {0: "double-sided", 1: "pudding", 2: "convexity"}
THRESHOLD_DEFAULTS = {
    "trivial_loss": 0.9,
    "convexity_o1": 0.35,
    "double_sided_o2": 0.5,
    "pudding_o3": 0.0,
    "valley_kappa": 0.5,
    "valley_importance": 0.05,
}
class ReportError(Exception):
    pass


class Columns(dict):
    """The records table by column; a column the file lacks is a clear error, not a KeyError."""

    def __init__(self, path, columns):
        super().__init__(columns)
        self.path = path

    def __missing__(self, key):
        raise ReportError(f"{self.path} is not an hnet sweep file (missing: records/{key})")


def text_attribute(f, name, default=None):
    if name not in f.attrs:
        if default is None:
            raise ReportError(f"{f.filename} has no attribute {name}")
        return default
    value = f.attrs[name]
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def lines(text):
    return [line for line in text.split("\n") if line != ""]


class Sweep:
    """The records table and run description of one sweep file."""

    def __init__(self, path):
        self.path = path
        if not os.path.isfile(path):
            raise ReportError(f"{path}: no such file (hnet sweep writes <output.dir>/sweep.h5)")
        try:
            f = h5py.File(path, "r")
        except OSError as e:
            raise ReportError(f"cannot open {path}: not an HDF5 file, or truncated ({e})")
        with f:
            # The columns are the ones the file lists (hnet sweep writes records@fields; its
            # `--list-fields` prints them); files without the list hold what records/ holds.
            records = f["records"] if isinstance(f.get("records"), h5py.Group) else None
            fields = lines(text_attribute(records, "fields", "")) if records is not None else []
            if records is not None and not fields:
                fields = sorted(k for k in records if isinstance(records[k], h5py.Dataset))
            missing = [f"records/{k}" for k in fields if f"records/{k}" not in f] if records is not None else ["records"]
            if "class_names" not in f.attrs:
                missing.append("attribute class_names")
            if missing:
                raise ReportError(f"{path} is not an hnet sweep file (missing: {', '.join(missing)})")
            try:
                self.r = Columns(path, {k: np.asarray(f[f"records/{k}"][()]) for k in fields})
            except OSError as e:
                raise ReportError(f"cannot read the records of {path} (truncated?): {e}")
            rows = {k: len(v) for k, v in self.r.items()}
            if len(set(rows.values())) != 1:
                raise ReportError(f"{path}: records datasets differ in length: {rows}")
            self.class_names = lines(text_attribute(f, "class_names"))
            self.jobs = lines(text_attribute(f, "jobs", ""))
            self.commands = text_attribute(f, "commands", "")
            self.deck_text = text_attribute(f, "deck", "")
            self.version = text_attribute(f, "hnet_version", "unknown")
            self.git_hash = text_attribute(f, "git_hash", "unknown")
        self.rows = len(self.r["job"])
        if self.rows == 0:
            raise ReportError(f"{path} holds no records")
        self.r["posterior_mean"] = self.r["posterior_mean"].astype(bool)
        self.deck = {}
        if self.deck_text and tomllib is not None:
            try:
                self.deck = tomllib.loads(self.deck_text)
            except tomllib.TOMLDecodeError as e:
                print(f"report.py: warning: the deck stored in {path} does not parse ({e}); "
                      "using defaults for the thresholds", file=sys.stderr)
        self.training_n = int(self.deck.get("target", {}).get("n", 0))
        if self.training_n not in set(self.r["n"].tolist()):
            # The training n is the size evaluated at every saved step, so the most frequent one.
            self.training_n = Counter(self.r["n"].tolist()).most_common(1)[0][0]
        sweep_section = self.deck.get("sweep", {})
        self.thresholds = {k: float(sweep_section.get(k, v)) for k, v in THRESHOLD_DEFAULTS.items()}
        at_n = self.r["n"] == self.training_n
        self.steps = sorted(set(self.r["step"][at_n].tolist()))
        self.final_step = self.steps[-1]
        self.sizes = sorted(set(self.r["n"].tolist()))
        self.seeds = sorted(set(self.r["generation_seed"].tolist()))
        self.betas = sorted(set(self.r["log10_beta"].tolist()))
        self.has_mean = bool(self.r["posterior_mean"].any())
        self.has_sample = bool((~self.r["posterior_mean"]).any())

    def class_name(self, code):
        code = int(code)
        return self.class_names[code] if 0 <= code < len(self.class_names) else f"class {code}"

    def colour(self, code):
        name = self.class_name(code)
        if name in CLASS_COLOURS:
            return CLASS_COLOURS[name]
        return EXTRA_COLOURS[int(code) % len(EXTRA_COLOURS)]

    def job_name(self, index):
        index = int(index)
        return self.jobs[index] if 0 <= index < len(self.jobs) else f"job {index}"

    def select(self, n=None, step=None, mean=None, beta=None):
        keep = np.ones(self.rows, bool)
        if n is not None:
            keep &= self.r["n"] == n
        if step is not None:
            keep &= self.r["step"] == step
        if mean is not None:
            keep &= self.r["posterior_mean"] == mean
        if beta is not None:
            keep &= self.r["log10_beta"] == beta
        return keep


def open_sweep_or_exit(path, tool):
    """The Sweep of path, or exit with "tool: reason" for the analysis scripts."""
    try:
        return Sweep(path)
    except ReportError as e:
        sys.exit(f"{tool}: {e}")


# ---------------------------------------------------------------------------------------------
# Small helpers


def fmt(x, digits=3):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{digits}g}"


def plural(count, noun):
    return f"{count} {noun}" + ("" if count == 1 else "s")


def fixed(x):
    """Order parameters live in [−1, 1]: two decimals, without a '−0.00'."""
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:.2f}".replace("-0.00", "0.00")


def median(values):
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else float("nan")


def majority(sweep, codes):
    """(code, fraction, tied codes) of the most common class; (None, 0, []) for no records."""
    counts = Counter(int(c) for c in codes)
    if not counts:
        return None, 0.0, []
    top = max(counts.values())
    tied = sorted(c for c, k in counts.items() if k == top)
    return tied[0], top / sum(counts.values()), tied


def majority_text(sweep, codes):
    code, _, tied = majority(sweep, codes)
    if code is None:
        return "–"
    if len(tied) > 1:
        return " = ".join(sweep.class_name(c) for c in tied) + " (tie)"
    return sweep.class_name(code)


def counts_text(sweep, codes):
    counts = Counter(int(c) for c in codes)
    return ", ".join(f"{sweep.class_name(c)} {counts[c]}" for c in sorted(counts)) or "–"


def ranges_text(values, grid):
    """Contiguous runs of grid points: 'log₁₀β −7.00 … −5.00, −2.00'."""
    index = sorted(grid.index(v) for v in set(values))
    runs, start = [], None
    for k, i in enumerate(index):
        if start is None:
            start = i
        if k + 1 == len(index) or index[k + 1] != i + 1:
            runs.append((start, i))
            start = None
    parts = [f"{grid[a]:.2f}" if a == b else f"{grid[a]:.2f} … {grid[b]:.2f}" for a, b in runs]
    return ", ".join(parts)


def save(fig, path):
    temporary = f"{path}.tmp.{os.getpid()}"
    fig.savefig(temporary, dpi=DPI, format="png", bbox_inches="tight")
    plt.close(fig)
    os.replace(temporary, path)


def write_text(path, text):
    temporary = f"{path}.tmp.{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temporary, path)


def class_legend(sweep, codes, extra=()):
    handles = [Patch(facecolor=sweep.colour(c), label=sweep.class_name(c)) for c in sorted(set(int(c) for c in codes))]
    return handles + list(extra)


def jitter(count, width, seed):
    return np.random.default_rng(seed).uniform(-width, width, count)


# ---------------------------------------------------------------------------------------------
# Plots


def plot_loss_kl(sweep, path):
    r = sweep.r
    keep = sweep.select(n=sweep.training_n, step=sweep.final_step)
    fig, (ax_loss, ax_kl) = plt.subplots(2, 1, sharex=True, figsize=(8, 7.5))
    spacing = np.diff(sweep.betas).min() if len(sweep.betas) > 1 else 1.0
    markers = []
    for mean, marker, offset, style in [(False, "o", -0.12, "-"), (True, "X", 0.12, "--")]:
        sel = keep & (r["posterior_mean"] == mean)
        if not sel.any():
            continue
        label = "posterior mean" if mean else "posterior sample"
        x = r["log10_beta"][sel] + offset * spacing + jitter(sel.sum(), 0.06 * spacing, 1 + mean)
        colours = [sweep.colour(c) for c in r["class"][sel]]
        for ax, field in [(ax_loss, "normalised_loss"), (ax_kl, "kl_bits")]:
            y = np.asarray(r[field][sel], dtype=float)
            if field == "normalised_loss":
                y = np.maximum(y, 1e-6)  # log axis; a loss of exactly 0 still shows
            ax.scatter(x, y, c=colours, marker=marker, s=28, alpha=0.8, edgecolors="black", linewidths=0.3)
            betas = sorted(set(r["log10_beta"][sel].tolist()))
            med = [median(r[field][sel & (r["log10_beta"] == b)]) for b in betas]
            ax.plot(betas, med, style, color="black", linewidth=1, alpha=0.7)
        markers.append(Line2D([], [], color="black", marker=marker, linestyle=style, markerfacecolor="white",
                              label=f"{label} (line: median)"))
    ax_loss.axhline(sweep.thresholds["trivial_loss"], color="gray", linestyle=":", linewidth=1)
    ax_loss.text(sweep.betas[0], sweep.thresholds["trivial_loss"] * 1.08, "trivial above", fontsize=8, color="gray")
    ax_loss.set_yscale("log")
    ax_loss.set_ylabel("normalised loss  L / Var‖x‖₁")
    ax_kl.set_yscale("symlog", linthresh=1.0)
    kl = np.asarray(r["kl_bits"][keep], dtype=float)
    kl = kl[np.isfinite(kl)]
    ax_kl.set_ylim(0, 3 * kl.max() + 1 if kl.size else 10)  # headroom on the symlog axis
    if len(sweep.betas) == 1:
        ax_kl.set_xlim(sweep.betas[0] - 1, sweep.betas[0] + 1)
    ax_kl.set_ylabel("D_KL (bits)")
    ax_kl.set_xlabel("log₁₀ β")
    for ax in (ax_loss, ax_kl):
        ax.grid(True, which="major", alpha=0.3)
    jobs = len(set(r["job"][keep].tolist()))
    ax_loss.set_title(f"final step {sweep.final_step}, training n = {sweep.training_n}: "
                      f"{jobs} job(s) × {len(sweep.seeds)} generation seed(s) per β")
    ax_loss.legend(handles=class_legend(sweep, r["class"][keep], markers), fontsize=8, loc="best")
    save(fig, path)


def class_map(ax, sweep, codes_of_cell, x_labels, y_labels, x_title, y_title, annotate):
    """Majority-class image: colour = class, paler = a smaller majority; a number = its fraction."""
    rows, cols = len(y_labels), len(x_labels)
    image = np.ones((rows, cols, 3))
    seen = set()
    for i in range(rows):
        for j in range(cols):
            codes = codes_of_cell(i, j)
            code, fraction, _ = majority(sweep, codes)
            if code is None:
                continue
            seen.add(code)
            rgb = np.array(matplotlib.colors.to_rgb(sweep.colour(code)))
            pale = 0.65 * (1.0 - fraction)
            image[i, j] = rgb * (1 - pale) + pale
            if annotate:
                ax.text(j, i, f"{fraction:.2f}".lstrip("0") if fraction < 1 else "1", ha="center", va="center",
                        fontsize=6.5, color="black")
    ax.imshow(image, origin="lower", aspect="auto", interpolation="nearest")
    ax.set_xticks(range(cols))
    ax.set_xticklabels(x_labels, rotation=90 if cols > 12 else 0, fontsize=7)
    ax.set_yticks(range(rows))
    ax.set_yticklabels(y_labels, fontsize=7)
    ax.set_xlabel(x_title)
    ax.set_ylabel(y_title)
    return seen


def plot_phase_diagram(sweep, path):
    r = sweep.r
    panels = [m for m in (False, True) if sweep.select(n=sweep.training_n, mean=m).any()]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 0.35 * len(sweep.steps) + 3.5), squeeze=False)
    seen = set()
    annotate = len(sweep.betas) * len(sweep.steps) <= 400
    for ax, mean in zip(axes[0], panels):
        base = sweep.select(n=sweep.training_n, mean=mean)

        def cell(i, j):
            return r["class"][base & (r["step"] == sweep.steps[i]) & (r["log10_beta"] == sweep.betas[j])]

        seen |= class_map(ax, sweep, cell, [f"{b:.2f}" for b in sweep.betas], [str(s) for s in sweep.steps],
                          "log₁₀ β", "training step", annotate)
        ax.set_title(f"posterior {'mean' if mean else 'sample'}, n = {sweep.training_n}", fontsize=10)
    fig.suptitle("majority class (paler: smaller majority; number: its fraction; white: not evaluated)", fontsize=10)
    fig.legend(handles=class_legend(sweep, seen), loc="lower center", ncol=max(1, len(seen)), fontsize=8,
               bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    save(fig, path)


def plot_order_parameters(sweep, path):
    r = sweep.r
    t = sweep.thresholds
    keep = sweep.select(n=sweep.training_n)
    fig, (ax2, ax3) = plt.subplots(1, 2, figsize=(11, 4.8))
    markers = []
    for mean, marker in [(False, "o"), (True, "X")]:
        sel = keep & (r["posterior_mean"] == mean)
        if not sel.any():
            continue
        colours = [sweep.colour(c) for c in r["class"][sel]]
        spread = jitter(sel.sum(), 0.008, 3 + mean)
        ax2.scatter(r["o1"][sel] + spread, r["o2"][sel] + spread[::-1], c=colours, marker=marker, s=22, alpha=0.6,
                    edgecolors="black", linewidths=0.3)
        ax3.scatter(r["o1"][sel] + spread, r["o3"][sel] + spread[::-1], c=colours, marker=marker, s=22, alpha=0.6,
                    edgecolors="black", linewidths=0.3)
        markers.append(Line2D([], [], color="black", marker=marker, linestyle="", markerfacecolor="white",
                              label=f"posterior {'mean' if mean else 'sample'}"))
    for ax in (ax2, ax3):
        ax.axvline(t["convexity_o1"], color="gray", linestyle=":", linewidth=1)
        ax.set_xlim(-0.02, 1.05)
        ax.set_xlabel("O₁ specialisation")
        ax.grid(True, alpha=0.3)
    ax2.axhline(t["double_sided_o2"], color="gray", linestyle=":", linewidth=1)
    ax2.set_ylim(-0.05, 1.05)
    ax2.set_ylabel("O₂ double-sidedness")
    ax3.axhline(t["pudding_o3"], color="gray", linestyle=":", linewidth=1)
    ax3.set_ylim(-1.08, 1.08)
    ax3.set_ylabel("O₃ polarity")
    ax2.set_title(f"every β and saved step at n = {sweep.training_n} (dotted: class thresholds)", fontsize=9)
    ax3.legend(handles=class_legend(sweep, r["class"][keep], markers), fontsize=8, loc="lower right")
    fig.tight_layout()
    save(fig, path)


def plot_generalisation(sweep, path):
    r = sweep.r
    keep = sweep.select(step=sweep.final_step, mean=False) if sweep.has_sample else sweep.select(step=sweep.final_step)
    sizes = sorted(set(r["n"][keep].tolist()))
    fig, (ax_loss, ax_map) = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [1.2, 1]})
    cmap = plt.get_cmap("viridis")
    lo, hi = sweep.betas[0], sweep.betas[-1]
    for b in sweep.betas:
        med = [median(r["normalised_loss"][keep & (r["n"] == n) & (r["log10_beta"] == b)]) for n in sizes]
        colour = cmap(0.5 if hi == lo else (b - lo) / (hi - lo))
        ax_loss.plot(sizes, np.maximum(med, 1e-6), "-o", color=colour, markersize=3, linewidth=1)
    ax_loss.axvline(sweep.training_n, color="gray", linestyle=":", linewidth=1)
    ax_loss.text(sweep.training_n, ax_loss.get_ylim()[1], " training n", fontsize=8, color="gray", va="top")
    ax_loss.set_yscale("log")
    ax_loss.set_xticks(sizes)
    ax_loss.set_xlabel("n′ (input size of the generated network)")
    ax_loss.set_ylabel("normalised loss (median over seeds)")
    ax_loss.grid(True, alpha=0.3)
    mappable = matplotlib.cm.ScalarMappable(norm=matplotlib.colors.Normalize(lo, hi if hi > lo else lo + 1), cmap=cmap)
    fig.colorbar(mappable, ax=ax_loss, label="log₁₀ β")
    ax_loss.set_title(f"final step {sweep.final_step}, posterior {'sample' if sweep.has_sample else 'mean'}"
                      + ("" if len(sizes) > 1 else " (no other sizes n′ evaluated)"), fontsize=10)

    def cell(i, j):
        return r["class"][keep & (r["log10_beta"] == sweep.betas[i]) & (r["n"] == sizes[j])]

    seen = class_map(ax_map, sweep, cell, [str(n) for n in sizes], [f"{b:.2f}" for b in sweep.betas], "n′", "log₁₀ β",
                     len(sizes) * len(sweep.betas) <= 400)
    ax_map.set_title("majority class (paler: smaller majority)", fontsize=10)
    ax_map.legend(handles=class_legend(sweep, seen), fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    save(fig, path)


def read_history(path):
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ReportError(f"cannot open training job file {path}: {e}")
    with f:
        missing = [k for k in ("history/step", "history/normalised_loss", "history/kl") if k not in f]
        if missing:
            raise ReportError(f"{path} is not an hnet training job file (missing: {', '.join(missing)})")
        history = {k: np.asarray(f[f"history/{k}"][()], dtype=float)
                   for k in ("step", "normalised_loss", "kl", "log10_beta_upper") if f"history/{k}" in f}
        history["name"] = text_attribute(f, "job", os.path.splitext(os.path.basename(path))[0])
    return history


def plot_training(sweep, histories, path):
    rows = 3 if any("log10_beta_upper" in h for h in histories) else 2
    fig, axes = plt.subplots(rows, 1, sharex=True, figsize=(8, 2.6 * rows + 0.6))
    for h in histories:
        axes[0].plot(h["step"], np.maximum(h["normalised_loss"], 1e-6), linewidth=0.8, label=h["name"])
        axes[1].plot(h["step"], h["kl"], linewidth=0.8, label=h["name"])
        if rows == 3 and "log10_beta_upper" in h:
            axes[2].plot(h["step"], h["log10_beta_upper"], linewidth=1, label=h["name"])
    axes[0].set_yscale("log")
    axes[0].set_ylabel("normalised loss\n(batch mean)")
    axes[1].set_yscale("symlog", linthresh=1.0)
    axes[1].set_ylim(bottom=0)
    axes[1].set_ylabel("D_KL (nats,\nbatch mean)")
    if rows == 3:
        axes[2].set_ylabel("upper end of\nlog₁₀ β range")
    for ax in axes:
        for s in sweep.steps:
            ax.axvline(s, color="gray", linestyle=":", linewidth=0.6)
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel("training step (dotted: models evaluated in the sweep)")
    axes[0].legend(fontsize=8)
    axes[0].set_title("training history (each step mixes β values drawn from the current range)", fontsize=10)
    fig.tight_layout()
    save(fig, path)


# ---------------------------------------------------------------------------------------------
# The report


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def deck_summary(sweep):
    d = sweep.deck
    g = lambda section, key, default="?": d.get(section, {}).get(key, default)  # noqa: E731
    n = g("target", "n", sweep.training_n)
    ratio = g("target", "hidden_ratio", "?")
    m = n * ratio if isinstance(n, int) and isinstance(ratio, int) else "?"
    seeds = g("parallel", "seeds")
    mode = g("parallel", "mode")
    items = [
        f"target network: n = {n}, m = {m} (hidden_ratio {ratio}); task {g('task', 'target')} of "
        f"{g('task', 'input')} inputs, evaluation set {g('task', 'eval_size')} inputs",
        f"hypernetwork: d = {g('model', 'd')}, heads {g('model', 'heads')}, blocks {g('model', 'blocks')}, "
        f"latent k = {g('model', 'latent')}, read-out {g('model', 'readout')}, σ {g('model', 'sigma')} "
        f"(prior_scale {g('model', 'prior_scale')}), posterior_identity {g('model', 'posterior_identity')}",
        f"training: {g('train', 'steps')} steps, B_β {g('train', 'batch_beta')}, B_x {g('train', 'batch_x')}, "
        f"lr {g('train', 'lr')}, objective {g('train', 'objective')}, log₁₀β ∈ [{g('train', 'log10_beta_min')}, "
        f"{g('train', 'log10_beta_max')}], curriculum {g('train', 'beta_curriculum')}, run seed {g('train', 'seed')}",
        f"parallel: mode {mode}, training seeds {seeds}"
        + (f", fixed log₁₀β {g('parallel', 'fixed_log10_betas')}" if mode == "fixed_beta" else ""),
        f"sweep (deck): {g('sweep', 'beta_points')} β values, {g('sweep', 'generation_seeds')} generation seeds, "
        f"sizes {g('sweep', 'sizes')}, steps {g('sweep', 'steps')} (empty = every saved model), "
        f"posterior_mean {g('sweep', 'posterior_mean')}",
    ]
    if not d:
        items = ["(the file's deck could not be read; the values below come from the records)"]
    jobs = ", ".join(sweep.jobs) if sweep.jobs else "(not listed)"
    items.append(
        f"this file: {sweep.rows} networks; jobs {jobs}; training n = {sweep.training_n}; sizes {sweep.sizes}; "
        f"steps at the training n {sweep.steps}; {len(sweep.betas)} β values (log₁₀β {sweep.betas[0]:.2f} … "
        f"{sweep.betas[-1]:.2f}); generation seeds {sweep.seeds}; posterior "
        + ("sample and mean" if sweep.has_mean and sweep.has_sample else "mean only" if sweep.has_mean else "sample only"))
    return "\n".join(f"- {item}" for item in items)


def beta_table(sweep):
    r = sweep.r
    base = sweep.select(n=sweep.training_n, step=sweep.final_step)
    rows = []
    for b in sweep.betas:
        s = base & (r["log10_beta"] == b) & ~r["posterior_mean"]
        m = base & (r["log10_beta"] == b) & r["posterior_mean"]
        if not (s.any() or m.any()):
            continue
        rows.append([f"{b:.2f}", f"{10 ** b:.3g}", fmt(median(r["normalised_loss"][s])),
                     fmt(median(r["normalised_loss"][m])) if m.any() else "–", fmt(median(r["kl_bits"][s])),
                     fixed(median(r["o1"][s])), fixed(median(r["o2"][s])), fixed(median(r["o3"][s])),
                     majority_text(sweep, r["class"][s]), counts_text(sweep, r["class"][s]),
                     majority_text(sweep, r["class"][m]) if m.any() else "–"])
    header = ["log₁₀β", "β", "norm. loss (sample)", "norm. loss (mean)", "D_KL bits", "O₁", "O₂", "O₃",
              "majority class (sample)", "class counts (sample)", "majority class (mean)"]
    return table(header, rows)


def ordering_text(sweep, majorities):
    """Does the majority class follow double-sided → pudding → convexity as β rises?"""
    sequence = [(b, code) for b, code in majorities
                if code is not None and sweep.class_name(code) in FAMILY]
    families = [FAMILY[sweep.class_name(c)] for _, c in sequence]
    present = sorted(set(families))
    if len(present) < 2:
        only = FAMILY_NAME[present[0]] if present else "no algorithm family"
        return (f"The β-ordering cannot be judged: only {only} occurs as a majority class at the final step "
                "(the ordering needs at least two of double-sided, pudding and convexity).")
    breaks = [(sequence[k], sequence[k + 1]) for k in range(len(sequence) - 1) if families[k + 1] < families[k]]
    spans = []
    for fam in present:
        betas = [b for (b, _), f in zip(sequence, families) if f == fam]
        spans.append(f"{FAMILY_NAME[fam]} at log₁₀β {min(betas):.2f} … {max(betas):.2f}")
    absent = [FAMILY_NAME[f] for f in (0, 1, 2) if f not in present]
    if not breaks:
        text = "The β-ordering **holds** for the families present (low β → high β): " + "; ".join(spans) + "."
        if absent:
            text += f" It is incomplete: {', '.join(absent)} does not occur as a majority class."
        return text
    listed = "; ".join(f"{sweep.class_name(c1)} at log₁₀β {b1:.2f} is followed by {sweep.class_name(c2)} at {b2:.2f}"
                       for (b1, c1), (b2, c2) in breaks)
    return ("The β-ordering (double-sided at low β → pudding → convexity at high β) does **not** hold: "
            + listed + ". Spans: " + "; ".join(spans) + ".")


def ordering_majorities(sweep, sel):
    """The (log10 β, majority class) list ordering_text takes, over the records in sel, and the β values
    left out of it because their majority is a tie between families."""
    r = sweep.r
    majorities, undecided = [], []
    for b in sweep.betas:
        code, _, tied = majority(sweep, r["class"][sel & (r["log10_beta"] == b)])
        if code is None:
            continue
        # A tie inside one family (pudding ±) still places the family; a tie between
        # families does not, and that β is left out of the ordering rather than guessed.
        if len({FAMILY.get(sweep.class_name(c), sweep.class_name(c)) for c in tied}) > 1:
            undecided.append(b)
            continue
        majorities.append((b, code))
    return majorities, undecided


def classes_found(sweep):
    r = sweep.r
    base = sweep.select(n=sweep.training_n, step=sweep.final_step)
    out = []
    for mean in (False, True):
        sel = base & (r["posterior_mean"] == mean)
        if not sel.any():
            continue
        kind = "posterior mean" if mean else "posterior sample"
        out.append(f"**{kind}, final step {sweep.final_step}, n = {sweep.training_n}** "
                   f"({plural(int(sel.sum()), 'network')}):\n")
        for code in sorted(set(r["class"][sel].tolist())):
            at = sel & (r["class"] == code)
            betas = r["log10_beta"][at].tolist()
            out.append(f"- {sweep.class_name(code)}: log₁₀β {ranges_text(betas, sweep.betas)} "
                       f"({len(set(betas))} of {len(sweep.betas)} β values, {plural(int(at.sum()), 'network')})")
        out.append("")

    final_classes = {sweep.class_name(c) for c in r["class"][base].tolist()}
    anywhere = {sweep.class_name(c) for c in r["class"].tolist()}
    training_n_any = {sweep.class_name(c) for c in r["class"][sweep.select(n=sweep.training_n)].tolist()}
    notes = []
    for family, members in [("convexity", ["convexity"]), ("pudding", ["pudding-minus", "pudding-plus"]),
                            ("double-sided", ["double-sided"])]:
        if any(m in final_classes for m in members):
            missing = [m for m in members if m not in final_classes]
            if family == "pudding" and missing:
                notes.append(f"- pudding appeared only with one sign: {missing[0]} did NOT appear at the final step.")
            continue
        where = [m for m in members if m in anywhere]
        if not where:
            notes.append(f"- **{family} did NOT appear** in any record of this file.")
        else:
            earlier = [m for m in members if m in training_n_any]
            place = "at earlier steps" if earlier else "only at other sizes n′"
            notes.append(f"- **{family} did NOT appear** at the final step at the training n; it appears {place} "
                         f"({', '.join(where)}).")
    if notes:
        out.append("Absent algorithms:\n")
        out.extend(notes)
    else:
        out.append("All three algorithm families (convexity, pudding, double-sided) appear at the final step.")
    out.append("")

    if sweep.has_sample:
        majorities, undecided = ordering_majorities(sweep, base & ~r["posterior_mean"])
        out.append(ordering_text(sweep, majorities) + " (Majority class over the posterior samples at each β.)")
        if undecided:
            out.append(f"\nAt log₁₀β {ranges_text(undecided, sweep.betas)} the majority is a tie between "
                       "different classes; those β values are left out of the ordering.")
        trivial = [b for b, c in majorities if sweep.class_name(c) == "trivial"]
        if trivial:
            out.append(f"\nTrivial networks (no algorithm) are the majority at log₁₀β "
                       f"{ranges_text(trivial, sweep.betas)}; they take no part in the ordering.")
    return "\n".join(out)


def training_jobs(sweep):
    """The jobs (training seeds) with records at the training n and final step."""
    return sorted(set(sweep.r["job"][sweep.select(n=sweep.training_n, step=sweep.final_step)].tolist()))


def per_job_section(sweep):
    """The β table and the β-ordering of each job on its own: pooled medians and majorities hide
    training seeds that end in different phase pictures."""
    r = sweep.r
    if not sweep.has_sample:
        return "This file holds no posterior samples, so the jobs are not compared one by one.\n"
    jobs = training_jobs(sweep)
    sel = sweep.select(n=sweep.training_n, step=sweep.final_step, mean=False)
    out = [f"Final step {sweep.final_step}, training n = {sweep.training_n}, posterior samples of each job on its "
           f"own: majority class over the {plural(len(sweep.seeds), 'generation seed')} and, in parentheses, the "
           "median normalised loss.\n"]
    rows = []
    for b in sweep.betas:
        at = sel & (r["log10_beta"] == b)
        if not at.any():
            continue
        cells = []
        for j in jobs:
            s = at & (r["job"] == j)
            cells.append(f"{majority_text(sweep, r['class'][s])} ({fmt(median(r['normalised_loss'][s]))})"
                         if s.any() else "–")
        rows.append([f"{b:.2f}"] + cells)
    out.append(table(["log₁₀β"] + [sweep.job_name(j) for j in jobs], rows))
    out.append("\nβ-ordering of each job (majority class over its posterior samples at each β):\n")
    for j in jobs:
        majorities, undecided = ordering_majorities(sweep, sel & (r["job"] == j))
        line = f"- {sweep.job_name(j)}: {ordering_text(sweep, majorities)}"
        if undecided:
            line += (f" At log₁₀β {ranges_text(undecided, sweep.betas)} the majority is a tie between different "
                     "classes; those β values are left out.")
        out.append(line)
    return "\n".join(out)


def generalisation_section(sweep):
    r = sweep.r
    final = sweep.select(step=sweep.final_step)
    sizes = sorted(set(r["n"][final].tolist()))
    others = [n for n in sizes if n != sweep.training_n]
    out = []
    if not others:
        out.append("No generalisation sizes n′ ≠ n were evaluated (the deck's `[sweep] sizes` is empty, or the "
                   "sweep ran with other options); only the training n is listed.\n")
    # The class each (job, β, seed, posterior) had at the training n, to see whether n′ keeps it.
    reference = {}
    at_train = final & (r["n"] == sweep.training_n)
    for k in np.flatnonzero(at_train):
        reference[(r["job"][k], r["log10_beta"][k], r["generation_seed"][k], r["posterior_mean"][k])] = r["class"][k]
    rows = []
    for n in sizes:
        s = final & (r["n"] == n) & ~r["posterior_mean"]
        m = final & (r["n"] == n) & r["posterior_mean"]
        same = [r["class"][k] == reference[key] for k in np.flatnonzero(s)
                if (key := (r["job"][k], r["log10_beta"][k], r["generation_seed"][k], r["posterior_mean"][k])) in reference]
        rows.append([f"{n}" + (" (training)" if n == sweep.training_n else ""), int(s.sum()),
                     fmt(median(r["normalised_loss"][s])), fmt(median(r["normalised_loss"][m])) if m.any() else "–",
                     majority_text(sweep, r["class"][s]), counts_text(sweep, r["class"][s]),
                     fixed(median(r["coverage"][s])),
                     f"{np.mean(same):.2f}" if same else "–"])
    out.append(f"Final step {sweep.final_step}, pooled over every β and generation seed (posterior samples unless "
               "marked). *Same class* is the fraction of networks whose class equals the one the same "
               "(job, β, seed) has at the training n.\n")
    out.append(table(["n′", "networks", "norm. loss median (sample)", "norm. loss median (mean)", "majority class",
                      "class counts", "coverage median", "same class as training n"], rows))
    if others:
        out.append("\nBy β (majority class and median normalised loss of the posterior samples):\n")
        rows = []
        for b in sweep.betas:
            row = [f"{b:.2f}"]
            for n in sizes:
                s = final & (r["n"] == n) & ~r["posterior_mean"] & (r["log10_beta"] == b)
                row.append(f"{majority_text(sweep, r['class'][s])} {fmt(median(r['normalised_loss'][s]), 2)}"
                           if s.any() else "–")
            rows.append(row)
        out.append(table(["log₁₀β"] + [f"n′ = {n}" for n in sizes], rows))
    return "\n".join(out)


def how_to_read(sweep):
    t = sweep.thresholds
    return f"""\
Every generated network is classified from its weights alone (model.md §9.1). For hidden unit j,
c_j = |W1[j]|·‖W0[:,j]‖ is its importance and κ_j = W0[i*,j]² / Σᵢ W0[i,j]² the share of its
strongest input i*; it is a *valley unit* if κ_j > {t['valley_kappa']:g} and c_j > {t['valley_importance']:g}·max c.

- **O₁ (specialisation)** = Σ c_j κ_j / Σ c_j: how much of the network's weight sits in units that listen
  to one input (≈ 0.1–0.25 convexity, ≈ 0.5–0.9 pudding, ≈ 1 double-sided).
- **O₂ (double-sidedness)**: the fraction of inputs with both a positive and a negative valley unit.
- **O₃ (polarity)** = Σ_valley c_j s_j / Σ_valley c_j: ≈ +1 pudding (−), ≈ −1 pudding (+), ≈ 0 double-sided.
- **coverage**: the fraction of inputs with at least one valley unit.

Classes, first match wins, with this run's `[sweep]` thresholds: normalised loss > {t['trivial_loss']:g} →
trivial (no better than a constant); O₁ < {t['convexity_o1']:g} → convexity; O₂ > {t['double_sided_o2']:g} →
double-sided; O₃ > {t['pudding_o3']:g} → pudding-minus; otherwise pudding-plus. The normalised loss is
L / Var‖x‖₁ (1.0 = a constant predictor); D_KL is the information the latents carry about this network.
Networks from the posterior *sample* and from the posterior *mean* are both reported: a decoder that uses
the latent noise as a source of random weights writes good samples but a poor mean (model.md §11)."""


def report(sweep, out_dir, plots, drawings, training_files):
    rel = lambda p: os.path.relpath(p, out_dir)  # noqa: E731
    parts = [f"# hnet sweep report: {os.path.basename(os.path.dirname(os.path.abspath(sweep.path)))}\n",
             f"Source: `{rel(sweep.path)}` ({sweep.version}). Generated by "
             "`scripts/report.py`; every number below is read from that file.\n",
             "## What was run\n", deck_summary(sweep), "\nCommands that made these results:\n",
             "```\n" + (sweep.commands.strip() or "(the file lists no commands)") + "\n```\n"]
    if sweep.deck_text:
        parts.append("<details><summary>resolved deck</summary>\n\n```toml\n" + sweep.deck_text.strip() +
                     "\n```\n</details>\n")
    if training_files:
        parts.append("Training job files: " + ", ".join(f"`{rel(p)}`" for p in training_files) + "\n")
    parts += [f"## β table (final step {sweep.final_step}, training n = {sweep.training_n})\n",
              f"Medians over {len(set(sweep.r['job'].tolist()))} job(s) × {len(sweep.seeds)} generation seed(s); "
              "O₁, O₂, O₃ and D_KL of the posterior samples.\n",
              beta_table(sweep), "\n", "## Classes found\n", classes_found(sweep), "\n"]
    if len(training_jobs(sweep)) > 1:
        parts += ["## Per training seed\n", per_job_section(sweep), "\n"]
    parts += ["## Generalisation to other sizes n′\n", generalisation_section(sweep), "\n", "## Plots\n"]
    captions = {
        "loss_kl_vs_beta.png": "normalised loss and D_KL against β at the final step, coloured by class",
        "phase_diagram.png": "majority class over (β, training step)",
        "order_parameters.png": "order parameters O₁ against O₂ and O₃, coloured by class",
        "generalisation.png": "normalised loss and class against n′",
        "training_curve.png": "training history of the job files",
    }
    for name in plots:
        parts.append(f"- {captions.get(name, name)}: [{name}]({name})\n\n  ![{name}]({name})\n")
    parts.append("## Drawings\n")
    if drawings:
        for d in drawings:
            missing = "" if os.path.exists(d) else " (missing)"
            if missing:
                print(f"report.py: warning: drawing {d} does not exist; linked anyway", file=sys.stderr)
            link = rel(d)
            stem, ext = os.path.splitext(d)
            # hnet draw writes PREFIX.dot, .svg and .png together: link the siblings of the one given.
            others = [stem + e for e in (".png", ".svg", ".dot") if e != ext and os.path.exists(stem + e)]
            extra = "".join(f", [{os.path.splitext(a)[1][1:]}]({rel(a)})" for a in others)
            parts.append(f"- [{os.path.basename(d)}]({link}){extra}{missing}\n")
            if ext in (".png", ".svg"):
                parts.append(f"  ![{os.path.basename(d)}]({link})\n")
    else:
        parts.append("No drawings were given (make them with `hnet draw SWEEP --beta B`, then pass them with "
                     "`--drawings`, or leave them in the `drawings/` folder next to the sweep file).\n")
    parts += ["\n## How to read this\n", how_to_read(sweep), ""]
    return "\n".join(parts)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sweep", help="sweep file (hnet sweep's <output.dir>/sweep.h5)")
    p.add_argument("--out", help="directory to write into (default: the sweep file's directory)")
    p.add_argument("--drawings", nargs="*", default=None,
                   help="drawings to link (default: the PNGs in drawings/ next to the sweep file)")
    p.add_argument("--training", nargs="*", default=[], help="training job files (<output.dir>/<job>.h5)")
    args = p.parse_args(argv)
    try:
        sweep = Sweep(args.sweep)
        out_dir = args.out or os.path.dirname(os.path.abspath(args.sweep))
        os.makedirs(out_dir, exist_ok=True)
        histories = [read_history(t) for t in args.training]
        drawings = args.drawings
        if drawings is None:
            drawings = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(args.sweep)), "drawings", "*.png")))
        plots = []
        for name, make in [("loss_kl_vs_beta.png", plot_loss_kl), ("phase_diagram.png", plot_phase_diagram),
                           ("order_parameters.png", plot_order_parameters), ("generalisation.png", plot_generalisation)]:
            make(sweep, os.path.join(out_dir, name))
            plots.append(name)
        if histories:
            plot_training(sweep, histories, os.path.join(out_dir, "training_curve.png"))
            plots.append("training_curve.png")
        path = os.path.join(out_dir, "report.md")
        write_text(path, report(sweep, out_dir, plots, [os.path.abspath(d) for d in drawings],
                                [os.path.abspath(t) for t in args.training]))
    except ReportError as e:
        print(f"report.py: error: {e}", file=sys.stderr)
        return 1
    print(f"report.py: wrote {path} and {', '.join(plots)} in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
