#!/usr/bin/env python3
"""Kill-and-resume harness for `hnet train` (README, "Reliability").

Trains a tiny deck, kills it with SIGKILL at seeded random moments (at start-up, at random
times, and inside checkpoint writes, which HNET_TEST_WRITE_DELAY_MS stretches so a kill can land
there), resumes it with --restart until it finishes, and then requires:

  * the results, checkpoint and saved-model files equal those of an uninterrupted run bit for bit
    (every dataset but history/wall_seconds, every attribute; the deck attribute up to output.dir);
  * after every kill, every complete HDF5 file in the output directory opens and reads with h5py,
    and the checkpoint never goes backwards;
  * the temporary files of killed writers (<file>.tmp.<pid>) are gone at the end, while other
    files that merely look alike are left alone.

Quick by default (one series, 5 kills: the CI subset); HNET_RELIABILITY_FULL=1 or --full runs
five series (checkpoints every 1, 2 and 3 steps, two MPI ranks, non-finite steps skipped) with
at least 30 kills in all. Run with a Python that imports h5py (ctest uses the one CMake found).
"""
import argparse
import glob
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

TINY = [
    "target.n=4", "model.d=8", "model.heads=2", "model.blocks=1", "model.latent=2", "model.identity_dim=4",
    "model.phi_hidden=8", "model.phi_dim=4", "train.batch_beta=4", "train.batch_x=32", "train.warmup_steps=5",
    "train.curriculum_hold_steps=10", "train.curriculum_widen_steps=20", "output.log_every=1000000",
    "output.save_models=5",
]
WRITE_DELAY_MS = 40


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def session_processes(sid):
    """Processes of a session: mpiexec's ranks must die with it, as under a batch system."""
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:  # fields after the name: state ppid pgrp session ...
                found.append(int(stat.split("/")[2]))
        except (OSError, IndexError, ValueError):
            pass
    return found


def kill_session(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline:
        left = session_processes(proc.pid)
        if not left:
            return
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    raise Failure("processes of a killed run survive: %s" % session_processes(proc.pid))


def temporaries(out):
    return sorted(glob.glob(os.path.join(out, "*.tmp.*")) + glob.glob(os.path.join(out, "checkpoints", "*.tmp.*")) +
                  glob.glob(os.path.join(out, "models", "seed0", "*.tmp.*")))


def h5_files(out):
    return sorted(p for p in glob.glob(os.path.join(out, "**", "*.h5"), recursive=True))


def read_everything(path):
    """Opens the file and reads every dataset and attribute: a half-written file fails here."""
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                obj[()]
            for key in obj.attrs:
                obj.attrs[key]
        f.visititems(visit)
        for key in f.attrs:
            f.attrs[key]
        return int(f.attrs["next_step"]) if "next_step" in f.attrs else None  # saved models have none


def contents(path):
    """Every dataset's dtype, shape and bytes, every attribute; output.dir made neutral."""
    data, attrs = {}, {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            for key, value in obj.attrs.items():
                attrs[name + "@" + key] = value
            if isinstance(obj, h5py.Dataset) and name != "history/wall_seconds":
                v = obj[()]
                data[name] = (str(v.dtype), v.shape, np.ascontiguousarray(v).tobytes())
        f.visititems(visit)
        for key, value in f.attrs.items():
            if key == "deck":  # the only key that differs, with its comment's alignment
                value = re.sub(r"^dir = .*$", "dir = <output.dir>", value, flags=re.M)
            attrs["/@" + key] = value
    return data, attrs


def compare(reference, candidate):
    rd, ra = contents(reference)
    cd, ca = contents(candidate)
    check(sorted(rd) == sorted(cd), "%s: datasets differ from the uninterrupted run: %s"
          % (candidate, sorted(set(rd) ^ set(cd))))
    differ = [name for name in rd if rd[name] != cd[name]]
    check(not differ, "%s differs from the uninterrupted run in %s" % (candidate, differ))
    check(sorted(ra) == sorted(ca), "%s: attributes differ: %s" % (candidate, sorted(set(ra) ^ set(ca))))
    differ = [k for k in ra if str(ra[k]) != str(ca[k])]
    check(not differ, "%s: attributes differ from the uninterrupted run: %s" % (candidate, differ))
    return len(rd)


class Series:
    """One deck trained once without interruption and once with kills."""

    def __init__(self, args, name, steps, every, ranks=1, overrides=(), env=None):
        self.args, self.name, self.steps, self.every, self.ranks = args, name, steps, every, ranks
        self.overrides = list(TINY) + ["train.steps=%d" % steps, "output.checkpoint_every=%d" % every] + list(overrides)
        if ranks > 1:
            self.overrides.append("parallel.ranks_per_group=%d" % ranks)
        self.extra_env = dict(env or {})
        self.ref = os.path.join(args.work, name, "reference")
        self.out = os.path.join(args.work, name, "killed")
        self.log = os.path.join(args.work, name, "log.txt")

    def command(self, out):
        cmd = [self.args.hnet, "train", self.args.deck, "--restart"]
        for o in self.overrides + ["output.dir=" + out]:
            cmd += ["--set", o]
        if self.ranks > 1:
            cmd = [self.args.mpiexec, "-n", str(self.ranks), "--oversubscribe"] + cmd
        return cmd

    def env(self, delay):
        env = dict(os.environ)
        env.update(self.extra_env)
        env.update({"OMP_NUM_THREADS": "1", "OMP_PROC_BIND": "false", "OMPI_ALLOW_RUN_AS_ROOT": "1",
                    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_rmaps_base_oversubscribe": "1"})
        if delay:
            env["HNET_TEST_WRITE_DELAY_MS"] = str(WRITE_DELAY_MS)
        return env

    def start(self, out, delay):
        log = open(self.log, "a")
        log.write("\n$ %s\n" % " ".join(self.command(out)))
        log.flush()
        return subprocess.Popen(self.command(out), stdout=log, stderr=subprocess.STDOUT, env=self.env(delay),
                                start_new_session=True), log

    def checkpoint_step(self):
        path = os.path.join(self.out, "checkpoints", "seed0.h5")
        return read_everything(path) if os.path.exists(path) else 0

    def plant(self):
        """Look-alikes of a killed writer's leftovers: only this job's, of dead processes, may go."""
        os.makedirs(os.path.join(self.out, "checkpoints"))
        os.makedirs(os.path.join(self.out, "models", "seed0"))
        dead = subprocess.Popen(["true"])
        dead.wait()
        garbage = bytes(random.Random(dead.pid).getrandbits(8) for _ in range(3000))
        stale = [os.path.join(self.out, "seed0.h5.tmp.%d" % dead.pid),
                 os.path.join(self.out, "checkpoints", "seed0.h5.tmp.%d" % dead.pid),
                 os.path.join(self.out, "models", "seed0", "step_3.h5.tmp.%d" % dead.pid)]
        kept = [os.path.join(self.out, "seed0.h5.tmp.%d" % os.getpid()),  # alive: could be writing
                os.path.join(self.out, "seed1.h5.tmp.%d" % dead.pid),      # another job's
                os.path.join(self.out, "seed0.h5.tmp.notes")]              # not a writer's name
        for path in stale + kept:
            with open(path, "wb") as f:
                f.write(garbage)
        return stale, kept

    def run(self, rng, max_kills):
        shutil.rmtree(os.path.join(self.args.work, self.name), ignore_errors=True)
        os.makedirs(os.path.join(self.args.work, self.name))
        started = time.time()
        proc, log = self.start(self.ref, delay=False)
        rc = proc.wait()
        log.close()
        check(rc == 0, "%s: the uninterrupted run failed (rc %d); see %s" % (self.name, rc, self.log))
        reference_seconds = time.time() - started

        stale, kept = self.plant()
        kills = in_write = starts = 0
        last_step, stuck = 0, 0
        while True:
            proc, log = self.start(self.out, delay=True)
            starts += 1
            if kills >= max_kills:
                rc = proc.wait()
                log.close()
                check(rc == 0, "%s: the final resumed run failed (rc %d); see %s" % (self.name, rc, self.log))
                break
            mode = rng.choice(["startup", "timer", "timer", "in_write", "in_write"])
            known = set(temporaries(self.out))
            if mode == "in_write":
                # Wait for a new temporary file: a checkpoint or results write has begun.
                deadline = time.time() + 4 * reference_seconds + 5
                while proc.poll() is None and time.time() < deadline and not (set(temporaries(self.out)) - known):
                    time.sleep(0.002)
                time.sleep(rng.uniform(0, 0.8 * WRITE_DELAY_MS / 1000))
            else:
                # Later and later while no progress is made, so the run always gets somewhere.
                span = 0.3 if mode == "startup" else reference_seconds + 1.0
                deadline = time.time() + rng.uniform(0.0, span) * (1 + stuck)
                while proc.poll() is None and time.time() < deadline:
                    time.sleep(0.002)
            if proc.poll() is not None:  # finished (or failed) before the kill
                log.close()
                check(proc.returncode == 0, "%s: a resumed run failed (rc %d); see %s"
                      % (self.name, proc.returncode, self.log))
                break
            kill_session(proc)
            log.write("# killed (%s)\n" % mode)
            log.close()
            kills += 1
            fresh = set(temporaries(self.out)) - known
            in_write += bool(fresh)
            # Whatever the moment, every complete file is whole and the checkpoint never goes back.
            for path in h5_files(self.out):
                try:
                    read_everything(path)
                except Exception as e:  # noqa: BLE001 - any failure to read is the finding
                    raise Failure("%s: after a kill (%s), %s does not read: %s" % (self.name, mode, path, e))
            step = self.checkpoint_step()
            check(step >= last_step, "%s: the checkpoint went back from step %d to %d" % (self.name, last_step, step))
            stuck = stuck + 1 if step == last_step else 0
            last_step = step

        # The end: the same bits as without kills, whole files, no leftovers of killed writers.
        compared = 0
        models = sorted(os.path.relpath(p, self.ref) for p in glob.glob(os.path.join(self.ref, "models", "seed0", "*.h5")))
        check(models == sorted(os.path.relpath(p, self.out) for p in glob.glob(os.path.join(self.out, "models", "seed0",
                                                                                              "*.h5"))),
              "%s: other saved models than the uninterrupted run's" % self.name)
        for rel in ["seed0.h5", os.path.join("checkpoints", "seed0.h5")] + models:
            compared += compare(os.path.join(self.ref, rel), os.path.join(self.out, rel))
        for path in h5_files(self.out):
            read_everything(path)
        left = sorted(set(temporaries(self.out)) - set(kept))
        check(not left, "%s: temporary files of killed writers remain: %s" % (self.name, left))
        check(all(not os.path.exists(p) for p in stale), "%s: planted stale files were not removed" % self.name)
        check(all(os.path.exists(p) for p in kept), "%s: the trainer removed files that were not its own "
              "stale temporaries: %s" % (self.name, [p for p in kept if not os.path.exists(p)]))
        with h5py.File(os.path.join(self.out, "seed0.h5"), "r") as f:
            theta = f["theta"][()]
            check(np.all(np.isfinite(theta)), "%s: theta is not finite" % self.name)
            skipped = int(f["state/skipped_steps"][0])
        print("%-22s %2d kills (%d inside a write), %2d starts, %d datasets equal bit for bit, %d skipped steps"
              % (self.name, kills, in_write, starts, compared, skipped), flush=True)
        return kills, in_write, skipped


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hnet", required=True)
    parser.add_argument("--work", required=True, help="scratch directory (emptied)")
    parser.add_argument("--mpiexec", default="mpiexec")
    parser.add_argument("--seed", type=int, default=20240229)
    parser.add_argument("--full", action="store_true", help="the full harness (also HNET_RELIABILITY_FULL=1)")
    args = parser.parse_args()
    full = args.full or os.environ.get("HNET_RELIABILITY_FULL", "") not in ("", "0")
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    args.deck = os.path.join(args.work, "empty.toml")  # every key from --set
    open(args.deck, "w").close()
    rng = random.Random(args.seed)

    if full:
        plan = [Series(args, "every1", 120, 1), Series(args, "every2", 120, 2), Series(args, "every3", 120, 3),
                Series(args, "mpi2_every2", 60, 2, ranks=2),
                Series(args, "skip_every2", 120, 2, overrides=["train.nonfinite=skip"],
                       env={"HNET_FAULT_NONFINITE_STEP": "7,20:loss,33:inf"})]
        per_series, minimum_kills, minimum_in_write = 8, 30, 10
    else:
        plan = [Series(args, "every2", 100, 2)]
        per_series, minimum_kills, minimum_in_write = 5, 5, 1

    started = time.time()
    kills = in_write = 0
    try:
        for series in plan:
            k, w, skipped = series.run(rng, per_series)
            kills, in_write = kills + k, in_write + w
            if "skip" in series.name:
                check(skipped == 3, "%s: %d skipped steps recorded, expected 3" % (series.name, skipped))
        # A slow machine may finish a series before all its kills land: top up with fresh ones.
        extra = 0
        while kills < minimum_kills and extra < 3:
            extra += 1
            k, w, _ = Series(args, "extra%d" % extra, 100, 2).run(rng, minimum_kills - kills)
            kills, in_write = kills + k, in_write + w
        check(kills >= minimum_kills, "only %d kills landed (at least %d wanted)" % (kills, minimum_kills))
        check(in_write >= minimum_in_write, "only %d kills landed inside a write (at least %d wanted)"
              % (in_write, minimum_in_write))
    except Failure as e:
        print("FAILED: %s" % e, flush=True)
        return 1
    print("%s harness: %d kills, %d inside a write, all resumed to the same bits, %.1f s"
          % ("full" if full else "quick", kills, in_write, time.time() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
