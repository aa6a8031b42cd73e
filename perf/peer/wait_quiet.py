#!/usr/bin/env python3
"""Waits until the machine is quiet: all CPUs at least --idle percent idle over a --window.

    build/bin/hnet-python perf/peer/wait_quiet.py [--idle 90] [--window 3] [--timeout 1800] && <measurement>

Exit status 0 once quiet, 1 on timeout. Other people's builds and tests share this 2-core machine;
a measurement taken while they run says more about them than about the code measured.
"""
import argparse
import sys
import time


def cpu_times():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return idle, sum(fields)


def idle_percent(window):
    i0, t0 = cpu_times()
    time.sleep(window)
    i1, t1 = cpu_times()
    return 100.0 * (i1 - i0) / max(1, t1 - t0)


def wait_quiet(idle=90.0, window=3.0, timeout=1800.0, verbose=True):
    start = time.time()
    while True:
        p = idle_percent(window)
        if p >= idle:
            if verbose:
                print(f"# quiet: {p:.0f}% idle over {window:g}s (waited {time.time() - start:.0f}s)", flush=True)
            return True
        if time.time() - start > timeout:
            if verbose:
                print(f"# not quiet after {timeout:.0f}s (last {p:.0f}% idle); measuring anyway", flush=True)
            return False


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--idle", type=float, default=90.0)
    ap.add_argument("--window", type=float, default=3.0)
    ap.add_argument("--timeout", type=float, default=1800.0)
    a = ap.parse_args()
    sys.exit(0 if wait_quiet(a.idle, a.window, a.timeout) else 1)
