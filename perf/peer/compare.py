#!/usr/bin/env python3
"""Times hnet's training step against the PyTorch peer (perf/peer/hnet_peer.py) on this machine.

Runs A (hnet) and B (peer) alternately, A B B' A B B' ... (--rounds of each; B, B', ... are the
peer at each of --peer-threads), each under `/usr/bin/time -v` for its peak RSS, each started only
once the CPUs are idle (--quiet-timeout), and prints per-round rates, the ratio hnet/peer and the
peak RSS of both. Run from the repository root:

    build/bin/hnet-python perf/peer/compare.py                      # quick config, 2 rounds
    build/bin/hnet-python perf/peer/compare.py --rounds 3 --hnet-steps 100 --peer-steps 20
    build/bin/hnet-python perf/peer/compare.py --config paper --hnet-steps 8 --peer-steps 3 --warmup 2

Rates are per step, 1 / the median step time of a run, so a burst of someone else's work during a
run moves it little: `hnet train` records the wall time after every step (history/wall_seconds in
its results file) and the peer times each step; the first --warmup steps (start-up, first touch)
are left out, and so are hnet's start-up and final HDF5 writes. hnet's own `PERFORMANCE steps/s`
(whole run) and both mean rates are printed too. Both sides run the whole training step: forward,
backward, global-norm clipping and Adam.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from wait_quiet import wait_quiet  # noqa: E402
ROOT = os.path.dirname(os.path.dirname(HERE))
PYTHON = sys.executable  # the peer and its helpers run under the interpreter running this
TIME = "/usr/bin/time"


QUIET = {"timeout": 0.0, "missed": 0}


def run_timed(cmd, env):
    """Runs cmd under /usr/bin/time -v; returns (stdout, peak RSS in MiB, elapsed seconds)."""
    if QUIET["timeout"] > 0 and not wait_quiet(timeout=QUIET["timeout"], verbose=False):
        QUIET["missed"] += 1
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        p = subprocess.run([TIME, "-v", "-o", tf.name] + cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        report = tf.read()
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-4000:] + p.stderr[-4000:])
        raise SystemExit(f"compare: command failed ({p.returncode}): {' '.join(cmd)}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", report).group(1)) / 1024.0
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", report)
    elapsed = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    return p.stdout, rss, elapsed


def hnet_round(args, env, outdir):
    deck = os.path.join("inputs", args.config + ".toml")
    steps = args.hnet_steps
    cmd = [args.hnet, "train", deck, "--set", f"train.steps={steps}", "--set", f"output.dir={outdir}",
           "--set", "output.overwrite=true", "--set", f"output.log_every={steps}",
           "--set", f"output.checkpoint_every={steps}", "--set", "parallel.seeds=1"]
    out, rss, elapsed = run_timed(cmd, env)
    perf = re.search(r"PERFORMANCE steps/s=([\d.]+) networks/s=[\d.]+ GFLOP/s=([\d.]+) seconds=([\d.]+)", out)
    results = re.findall(r"^results: (.*)$", out, re.M)
    import h5py  # Debian's python3-h5py
    with h5py.File(os.path.join(ROOT, results[0]) if not os.path.isabs(results[0]) else results[0], "r") as f:
        wall = f["history/wall_seconds"][:]
        lines = lambda group, key: (lambda v: v.decode() if isinstance(v, bytes) else str(v))(
            f[group].attrs[key]).split("\n")
        table = {
            "P": list(zip(lines("parameters/P", "names"), lines("parameters/P", "shapes"))),
            "theta": list(zip(lines("parameters/theta", "names"), lines("parameters/theta", "shapes"))),
            "p": int(f["parameters/P/size"][:].sum()),
            "theta_size": int(f["parameters/theta/size"][:].sum()),
        }
    w = max(1, args.warmup)
    mean_rate = (len(wall) - w) / (wall[-1] - wall[w - 1])
    median_step = statistics.median(wall[k] - wall[k - 1] for k in range(w, len(wall)))
    whole, gflops = float(perf.group(1)), float(perf.group(2))
    return {"rate": 1.0 / median_step, "mean_rate": mean_rate, "whole_run_rate": whole,
            "flops_per_step": gflops / whole * 1e9, "rss": rss, "elapsed": elapsed, "table": table}


def peer_round(args, env, threads):
    cmd = [PYTHON, os.path.join(HERE, "hnet_peer.py"), "--config", args.config, "--steps", str(args.peer_steps),
           "--warmup", str(args.warmup), "--threads", str(threads)]
    # torch's intra-op threads and OpenBLAS's (which reads OMP_NUM_THREADS) both follow `threads`.
    out, rss, elapsed = run_timed(cmd, dict(env, OMP_NUM_THREADS=str(threads)))
    m = re.search(r"PEER steps/s=([\d.]+) ms/step=[\d.]+ median_ms=([\d.]+) .*flops/step=([\d.e+]+) p=(\d+) "
                  r"theta=(\d+)", out)
    return {"rate": 1e3 / float(m.group(2)), "mean_rate": float(m.group(1)), "flops_per_step": float(m.group(3)),
            "p": int(m.group(4)), "theta_size": int(m.group(5)), "rss": rss, "elapsed": elapsed}


def check_tables(hnet_table, env, config):
    """The peer's P and θ tables against the ones hnet wrote into its results file."""
    out = subprocess.run([PYTHON, os.path.join(HERE, "hnet_peer.py"), "--config", config, "--table"], env=env, cwd=ROOT,
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    peer = json.loads(out)
    shape = lambda s: "x".join(str(d) for d in s)
    same = True
    for key in ("P", "theta"):
        ours = [(name, shape(s)) for name, s in peer[key]]
        if ours != [tuple(t) for t in hnet_table[key]]:
            same = False
            diff = [(a, b) for a, b in zip(ours, hnet_table[key]) if tuple(a) != tuple(b)][:5]
            print(f"  parameter table {key}: DIFFERS (peer {len(ours)} tensors, hnet {len(hnet_table[key])}); "
                  f"first differences: {diff}")
    print(f"  parameter tables: peer p={peer['p']} theta={peer['theta_size']}, hnet p={hnet_table['p']} "
          f"theta={hnet_table['theta_size']}; tensor names and shapes {'identical' if same else 'DIFFER'} "
          f"({len(peer['P'])} tensors in P)")
    return same and peer["p"] == hnet_table["p"] and peer["theta_size"] == hnet_table["theta_size"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", choices=["quick", "paper"], default="quick")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of A B (at least 2)")
    ap.add_argument("--hnet", default=os.environ.get("HNET", "build/bin/hnet"), help="the hnet executable")
    ap.add_argument("--hnet-steps", type=int, default=100, help="training steps per hnet run")
    ap.add_argument("--peer-steps", type=int, default=10, help="timed steps per peer run")
    ap.add_argument("--warmup", type=int, default=3, help="leading steps left out of both rates")
    ap.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS for hnet")
    ap.add_argument("--target", type=float, default=4.0,
                    help="the ratio hnet/peer to report as met or missed (perf/README.md: 4 quick, 2 paper, 1.5 on 1 thread)")
    ap.add_argument("--peer-threads", default="2,1",
                    help="comma-separated torch thread counts, one peer run (B, B', ...) per count and round; the "
                         "first is the reference (2, as specified); 1 is added because it is the peer's fastest "
                         "setting on this 2-core machine")
    ap.add_argument("--keep-openblas-coretype", action="store_true",
                    help="leave OPENBLAS_CORETYPE in the runs' environment; by default it is removed, so that the "
                         "peer's OpenBLAS picks the machine's own kernels (a pinned Haswell on an AVX-512 host halves "
                         "its GEMM rate and would flatter hnet)")
    ap.add_argument("--quiet-timeout", type=float, default=300,
                    help="before each run, wait up to this many seconds for the CPUs to be >= 90%% idle "
                         "(perf/peer/wait_quiet.py); 0: do not wait")
    args = ap.parse_args()
    args.peer_threads = [int(t) for t in args.peer_threads.split(",") if t]
    QUIET["timeout"] = args.quiet_timeout
    if args.rounds < 2:
        ap.error("--rounds must be at least 2")
    if args.hnet_steps <= args.warmup + 1:
        ap.error("--hnet-steps must exceed --warmup + 1")
    if not shutil.which(TIME):
        raise SystemExit("compare: /usr/bin/time is missing (Debian package 'time')")

    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(args.threads)
    env.setdefault("OMP_PROC_BIND", "false")  # hnet's default (README: 'Threads')
    if not args.keep_openblas_coretype:
        env.pop("OPENBLAS_CORETYPE", None)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"# compare: config {args.config}, {args.rounds} rounds A (hnet: {args.hnet}, {args.hnet_steps} steps) / "
          f"B (peer, {args.peer_steps} steps, torch threads {args.peer_threads}), {args.warmup} warm-up steps left out; "
          f"hnet OMP_NUM_THREADS={args.threads} "
          f"OMP_PROC_BIND={env['OMP_PROC_BIND']} OPENBLAS_NUM_THREADS={env.get('OPENBLAS_NUM_THREADS', '(unset)')} "
          f"OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '(unset)')}; load average before: {' '.join(load)}")
    hnet_runs, peer_runs = [], {t: [] for t in args.peer_threads}
    with tempfile.TemporaryDirectory(prefix="hnet-compare-") as tmp:
        for r in range(args.rounds):
            a = hnet_round(args, env, os.path.join(tmp, f"round{r}"))
            hnet_runs.append(a)
            print(f"  round {r + 1} A  hnet ({args.threads} threads): {a['rate']:8.3f} steps/s ({1e3 / a['rate']:7.2f} "
                  f"ms median step; mean {a['mean_rate']:.3f} steps/s, whole run incl. start-up and writes "
                  f"{a['whole_run_rate']:.3f}); peak RSS {a['rss']:.0f} MiB", flush=True)
            for k, t in enumerate(args.peer_threads):
                b = peer_round(args, env, t)
                peer_runs[t].append(b)
                print(f"  round {r + 1} B{chr(39) * k:<2}peer ({t} threads): {b['rate']:8.3f} steps/s ({1e3 / b['rate']:7.2f} "
                      f"ms median step; mean {b['mean_rate']:.3f} steps/s); peak RSS {b['rss']:.0f} MiB", flush=True)
        tables_ok = check_tables(hnet_runs[0]["table"], env, args.config)

    # Each run's rate is 1 / its median step time; over rounds, the median and the best (other
    # processes only ever slow a run down, so the best run is the least disturbed one).
    hf = hnet_runs[0]["flops_per_step"]
    pf = peer_runs[args.peer_threads[0]][0]["flops_per_step"]
    print(f"  counted FLOPs per step: hnet {hf / 1e9:.3f} GFLOP (from the rounded PERFORMANCE line), peer "
          f"{pf / 1e9:.4f} GFLOP")
    summary = lambda runs: (statistics.median(r["rate"] for r in runs), max(r["rate"] for r in runs),
                            max(r["rss"] for r in runs))
    ha, hb, hr = summary(hnet_runs)
    print(f"  hnet ({args.threads} threads): median {ha:.3f} steps/s, best {hb:.3f} steps/s = {hb * hf / 1e9:.2f} "
          f"GFLOP/s; peak RSS {hr:.0f} MiB")
    for t in args.peer_threads:
        pa, pb, pr = summary(peer_runs[t])
        print(f"  peer ({t} threads): median {pa:.3f} steps/s, best {pb:.3f} steps/s = {pb * pf / 1e9:.2f} GFLOP/s; "
              f"peak RSS {pr:.0f} MiB")
    for t in args.peer_threads:
        pa, pb, _ = summary(peer_runs[t])
        ratios = [a["rate"] / b["rate"] for a, b in zip(hnet_runs, peer_runs[t])]
        print(f"RATIO hnet/peer={ha / pa:.2f} (medians; best/best {hb / pb:.2f}; per round "
              f"{', '.join(f'{x:.2f}' for x in ratios)}) peer_threads={t} config={args.config} "
              f"target>={args.target:g} {'met' if ha / pa >= args.target else 'MISSED'}; tables {'match' if tables_ok else 'DIFFER'}")
    with open("/proc/loadavg") as f:
        print(f"# load average after: {' '.join(f.read().split()[:3])}; runs started on a busy machine (no quiet "
              f"window within --quiet-timeout): {QUIET['missed']}")


if __name__ == "__main__":
    main()
