#!/usr/bin/env python3
"""Disk and output-directory failures of the hnet command line (README, "Reliability"), one part
per ctest test:

  full_disk  a disk that fills, fails (EIO) or turns read-only while `hnet train`, `sweep` and
             `generate` write: exit 1 with the file and the OS error named, no crash, no
             temporary left, the last complete checkpoint and results intact, and --restart
             continuing to the same bits as a run never interrupted. On a real tmpfs where the
             machine allows mounting (root), always with the test-only HNET_FAULT_IO injection.
  checkpoint_size
             a long run, in segments continued with --restart, saves 20-odd models; the checkpoint
             and results files must not grow with them (only with the per-step history), every
             saved model must be written once, the restarts must give the uninterrupted run's
             bits, and `hnet sweep` and `hnet generate --step` must read every saved model.

  concurrent two `hnet train` on one job of one output.dir (another train.seed, --restart,
             output.overwrite): the second stops at once, exit 1, naming the first's host and PID,
             and the first completes to the bits of a run alone; a killed holder never blocks its
             own --restart; a second `hnet sweep` onto the same sweep.h5 is refused likewise
  output_dir an output.dir that cannot be created, is not writable or has no room for one
             checkpoint is refused before the deck is printed or anything allocated, with the
             directory and the reason named and nothing left behind (real read-only and tiny
             tmpfs mounts where mounting is allowed; HNET_FAULT_IO and HNET_TEST_FREE_BYTES always)

Run with a Python that imports h5py (ctest uses the one CMake found, build/bin/hnet-python).
"""
import argparse
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import h5py
import numpy as np

from cli_failures import TINY, Cli, Failure, check, expect_unchanged, no_temporaries, read_everything, snapshot


def h5_files(directory):
    return sorted(os.path.relpath(p, directory) for p in glob.glob(os.path.join(directory, "**", "*.h5"), recursive=True)
                  if "generated" not in p and not p.endswith("sweep.h5"))


def contents(path):
    """Every dataset (but the wall clock) and attribute; the output directory made neutral."""
    data, attrs = {}, {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            for key, value in obj.attrs.items():
                attrs[name + "@" + key] = str(value)
            if isinstance(obj, h5py.Dataset) and name != "history/wall_seconds":
                v = obj[()]
                data[name] = (str(v.dtype), v.shape, np.ascontiguousarray(v).tobytes())
        f.visititems(visit)
        for key, value in f.attrs.items():
            attrs["/@" + key] = re.sub(r"^dir = .*$", "dir = <output.dir>", str(value), flags=re.M)
    return data, attrs


def expect_same_run(reference, candidate, what):
    """The job files of two output directories hold the same bits (a run and its restarted twin)."""
    files = h5_files(reference)
    check(files == h5_files(candidate), "%s: other files than the uninterrupted run: %s vs %s"
          % (what, files, h5_files(candidate)))
    for rel in files:
        a, b = contents(os.path.join(reference, rel)), contents(os.path.join(candidate, rel))
        check(sorted(a[0]) == sorted(b[0]), "%s: %s has other datasets: %s" % (what, rel, sorted(set(a[0]) ^ set(b[0]))))
        differ = [k for k in a[0] if a[0][k] != b[0][k]] + [k for k in a[1] if a[1].get(k) != b[1].get(k)]
        check(not differ, "%s: %s differs from the uninterrupted run in %s" % (what, rel, differ))
    return len(files)


def checkpoint_step(directory):
    path = os.path.join(directory, "checkpoints", "seed0.h5")
    if not os.path.exists(path):
        return None
    with h5py.File(path, "r") as f:
        return int(f.attrs["next_step"])


def expect_io_error(cli, result, errno_text, what):
    rc, out, err = result
    check(rc == 1, "%s: exit code %d, expected 1 (139 = a crash)\nstderr: %s" % (what, rc, err[-3000:]))
    check("hnet: error:" in err and errno_text in err, "%s: the message does not give the OS error %s: %s"
          % (what, errno_text, err))
    check(re.search(r"cannot (write|create) \S+", err), "%s: the message does not name the file: %s" % (what, err))
    check("Segmentation" not in err and "signal" not in err.lower(), "%s: a crash: %s" % (what, err))
    return err


class Tmpfs:
    """A small tmpfs at a mount point, if this machine lets us mount one (root, CAP_SYS_ADMIN)."""

    def __init__(self, path, size):
        self.path, self.mounted = path, False
        os.makedirs(path, exist_ok=True)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % size, "tmpfs", path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.mounted = p.returncode == 0
        self.reason = p.stdout.decode(errors="replace").strip()

    def fill_to(self, free):
        """A filler file that leaves `free` bytes (rounded to blocks) to everyone else."""
        s = os.statvfs(self.path)
        have = s.f_bavail * s.f_frsize
        filler = os.path.join(self.path, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, have - free))
        s = os.statvfs(self.path)
        return s.f_bavail * s.f_frsize

    def close(self):
        if self.mounted:
            subprocess.run(["umount", self.path])
            self.mounted = False


# ---------------------------------------------------------------------------------------------

DISK_SETS = ["train.steps=30", "output.checkpoint_every=5", "output.save_models=8"]


def part_full_disk(cli):
    ref = os.path.join(cli.work, "reference")
    rc, _, err = cli.train(ref, sets=DISK_SETS)
    check(rc == 0, "the reference run failed: %s" % err)
    sizes = {rel: os.path.getsize(os.path.join(ref, rel)) for rel in h5_files(ref)}
    per_checkpoint = sizes["seed0.h5"] + sizes[os.path.join("checkpoints", "seed0.h5")]

    # Injected: the disk fills (ENOSPC, EDQUOT) or fails (EIO) part-way through a later checkpoint,
    # or the next file cannot be created (EACCES). The run stops with exit 1 naming the file and the
    # error; what is on disk is whole, and --restart finishes to the reference's bits.
    for fault, text in (("ENOSPC", "No space left on device (ENOSPC)"), ("EIO", "Input/output error (EIO)"),
                        ("EDQUOT", "Disk quota exceeded (EDQUOT)"), ("EACCES", "Permission denied (EACCES)")):
        d = os.path.join(cli.work, "inject_" + fault)
        limit = int(2.5 * per_checkpoint)
        err = expect_io_error(cli, cli.train(d, sets=DISK_SETS, env={"HNET_FAULT_IO": "%s@%d" % (fault, limit)}),
                              text, "train, %s after %d bytes" % (fault, limit))
        step = checkpoint_step(d)
        check(step is not None and 0 < step < 30, "%s: the failure left no earlier checkpoint (%s)" % (fault, step))
        check("the last complete checkpoint, %s at step %d, is intact" % (os.path.join(d, "checkpoints", "seed0.h5"), step)
              in err, "%s: the message does not say which checkpoint is intact: %s" % (fault, err))
        no_temporaries(d, "train, " + fault)
        for rel in h5_files(d):
            read_everything(os.path.join(d, rel))
        rc, _, err = cli.train(d, "--restart", sets=DISK_SETS)
        check(rc == 0, "%s: --restart after the failure failed: %s" % (fault, err))
        expect_same_run(ref, d, "train, %s, then --restart" % fault)

    # A failure at the very next write of a restarted run changes nothing on disk, byte for byte.
    base = os.path.join(cli.work, "base")
    rc, _, err = cli.train(base, "--stop-after-steps", "10", sets=DISK_SETS)
    check(rc == 0, "the run before the failure failed: %s" % err)
    # (A file system that has turned read-only is found by the start-up check of output.dir.)
    for fault, text, needle in (("ENOSPC", "(ENOSPC)", "at step 10, is intact"), ("EIO", "(EIO)", "at step 10, is intact"),
                                ("EROFS", "Read-only file system (EROFS)", "cannot write in output.dir")):
        d = os.path.join(cli.work, "restart_" + fault)
        shutil.copytree(base, d)
        before = snapshot(d)
        err = expect_io_error(cli, cli.train(d, "--restart", sets=DISK_SETS, env={"HNET_FAULT_IO": fault}), text,
                              "restart, " + fault)
        check(needle in err, "restart, %s: the message lacks '%s': %s" % (fault, needle, err))
        expect_unchanged(before, d, "restart, " + fault)

    # sweep and generate: the previous sweep.h5 survives a failed one; no generated file appears.
    rc, _, err = cli.sweep(ref)
    check(rc == 0, "the reference sweep failed: %s" % err)
    before = snapshot(ref)
    rc, out, err = cli.run(["sweep", cli.empty, "--quiet"] + sum((["--set", s] for s in TINY + DISK_SETS + [
        "output.dir=" + ref]), []), env={"HNET_FAULT_IO": "ENOSPC"})
    expect_io_error(cli, (rc, out, err), "(ENOSPC)", "sweep")
    check(os.path.join(ref, "sweep.h5") in err, "sweep: sweep.h5 is not named: %s" % err)
    expect_unchanged(before, ref, "sweep")
    out_dir = os.path.join(cli.work, "generate")
    err = expect_io_error(cli, cli.run(["generate", cli.empty, "--beta", "1e-3", "--set", "output.dir=" + out_dir],
                                       env={"HNET_FAULT_IO": "EIO"}), "(EIO)", "generate")
    check(not glob.glob(os.path.join(out_dir, "**", "*.h5*"), recursive=True), "generate: a file was left")

    # A real full disk, where mounting is allowed: a tmpfs with room for a few checkpoints only.
    mount = Tmpfs(os.path.join(cli.work, "tmpfs"), 8 * 1024 * 1024)
    try:
        if not mount.mounted:
            print("full disk: no tmpfs (%s); the injected faults above stand in for it" % mount.reason)
        else:
            d = os.path.join(mount.path, "run")
            # Room for the first checkpoint (with the models saved before it) and half of the next,
            # but at least what the start-up check asks for (its estimate, from its message).
            first = sum(size for rel, size in sizes.items() if re.match(r"models/seed0/step_[0-5]\.h5$", rel))
            wanted = first + per_checkpoint + sizes[os.path.join("checkpoints", "seed0.h5")] // 2
            rc, _, err = cli.train(d, sets=DISK_SETS, env={"HNET_TEST_FREE_BYTES": "1"})
            need = re.search(r"needs [^(]*\((\d+) bytes\)", err)
            check(rc == 1 and need, "tmpfs: no free-space estimate from the start-up check: %s" % err)
            wanted = max(wanted, int(need.group(1)) + 8192)
            everything = sum(sizes.values()) + sizes[os.path.join("checkpoints", "seed0.h5")]
            check(wanted < everything, "tmpfs: %d bytes would hold the whole run (%d): nothing to test" % (wanted, everything))
            free = mount.fill_to(wanted)
            err = expect_io_error(cli, cli.train(d, sets=DISK_SETS), "No space left on device (ENOSPC)",
                                  "train on a full tmpfs (%d bytes free)" % free)
            step = checkpoint_step(d)
            check(step is not None and 0 < step < 30, "tmpfs: no earlier checkpoint survived (%s)" % step)
            no_temporaries(d, "tmpfs")
            for rel in h5_files(d):
                read_everything(os.path.join(d, rel))
            os.remove(os.path.join(mount.path, "filler"))
            rc, _, err = cli.train(d, "--restart", sets=DISK_SETS)
            check(rc == 0, "tmpfs: --restart after freeing space failed: %s" % err)
            expect_same_run(ref, d, "tmpfs, then --restart")
            print("full disk: a real tmpfs filled at step %d of 30; the restart matched the reference" % step)
    finally:
        mount.close()
    print("full disk: every injected and real failure ended with exit 1, the file and the OS error named (%d commands)"
          % cli.count)


def part_checkpoint_size(cli):
    sets = ["train.steps=120", "output.checkpoint_every=10", "output.save_models=30"]
    ref = os.path.join(cli.work, "whole")
    rc, _, err = cli.train(ref, sets=sets)
    check(rc == 0, "the uninterrupted run failed: %s" % err)
    d = os.path.join(cli.work, "segments")
    rows = []  # (steps, saved models, checkpoint bytes, results bytes)
    model_times = {}
    for segment in range(12):
        extra = (["--restart"] if segment else []) + ["--stop-after-steps", "10"]
        rc, _, err = cli.train(d, *extra, sets=sets)
        check(rc == 0, "segment %d failed: %s" % (segment, err))
        with h5py.File(os.path.join(d, "checkpoints", "seed0.h5"), "r") as f:
            steps, saved = int(f.attrs["next_step"]), [int(s) for s in f["models/steps"][()]]
            theta_bytes = f["theta"].size * 4
            batch = f["history/network_loss"].shape[1]
        rows.append((steps, len(saved), os.path.getsize(os.path.join(d, "checkpoints", "seed0.h5")),
                     os.path.getsize(os.path.join(d, "seed0.h5"))))
        for step in saved:
            path = os.path.join(d, "models", "seed0", "step_%d.h5" % step)
            model_times.setdefault(step, []).append(os.stat(path).st_mtime_ns if os.path.exists(path) else None)
    check(rows[-1][0] == 120, "the segments did not reach step 120: %s" % rows)
    # Only the history may grow: (10 + 3 B_beta) values of 8 bytes per step.
    per_step = 8 * (10 + 3 * batch)
    for column, name in ((2, "checkpoint"), (3, "results file")):
        rest = [row[column] - per_step * row[0] for row in rows]
        check(max(rest) - min(rest) <= 8192,
              "the %s grows with the saved models: bytes beyond the history %s while the saved models went %s "
              "(theta is %d bytes)" % (name, rest, [row[1] for row in rows], theta_bytes))
    check(rows[-1][1] - rows[0][1] >= 10, "too few models were saved to tell: %s" % rows)
    # Written once: a model file, once there, is never rewritten by a later segment.
    for step, times in sorted(model_times.items()):
        check(None not in times, "the saved model at step %d is not a file of its own in models/seed0/" % step)
        check(len(set(times)) == 1, "the saved model at step %d was rewritten" % step)
    check(expect_same_run(ref, d, "segments") >= rows[-1][1] + 2, "not every file was compared")

    # Every saved model is read back: by the sweep (sweep.steps empty: all of them) and by generate.
    rc, _, err = cli.sweep(d, sets=sets)
    check(rc == 0, "the sweep over every saved model failed: %s" % err)
    with h5py.File(os.path.join(d, "sweep.h5"), "r") as f, h5py.File(os.path.join(d, "seed0.h5"), "r") as r:
        check(list(f["grid/steps"][()]) == list(r["models/steps"][()]), "the sweep did not read every saved model")
        check(set(f["records/step"][()]) == set(r["models/steps"][()]), "records miss saved models")
    for step in (saved[0], saved[len(saved) // 2], saved[-1]):
        rc, out, err = cli.run(["generate", cli.empty, "--beta", "1e-3", "--step", str(step)] +
                               sum((["--set", s] for s in TINY + sets + ["output.dir=" + d]), []))
        check(rc == 0 and "generated beta=0.001" in out, "generate --step %d failed: %s" % (step, err))
    print("checkpoint size: %d saved models, checkpoint %d -> %d bytes and results %d -> %d over 120 steps "
          "(history %d bytes/step, theta %d bytes)" % (rows[-1][1], rows[0][2], rows[-1][2], rows[0][3], rows[-1][3],
                                                        per_step, theta_bytes))


def train_command(cli, out, sets, *extra):
    argv = [cli.hnet, "train", cli.empty, "--quiet"] + list(extra)
    for s in TINY + list(sets) + ["output.dir=" + out]:
        argv += ["--set", s]
    return argv


def start(cli, argv, env=None):
    full_env = dict(os.environ, OMP_NUM_THREADS="1", OMP_PROC_BIND="false")
    full_env.update(env or {})
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env)


def wait_for(condition, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def names_pid(lock, pid):
    try:
        with open(lock) as f:
            return "PID %d," % pid in f.read()
    except OSError:
        return False


def expect_refused(cli, result, holder, lock, seconds, what):
    rc, out, err = result
    err = cli.expect_error(result, "already being written by another hnet process", "PID %d" % holder.pid,
                           "host " + socket.gethostname(), lock, what=what)
    check(seconds < 15, "%s: the refusal took %.1f s, not at once" % (what, seconds))
    check("resolved deck" not in out, "%s: refused only after printing the deck" % what)
    check(holder.poll() is None, "%s: the first run ended before the second was refused: the test proves nothing "
          "(slow the first run further)" % what)
    return err


def part_concurrent(cli):
    sets = ["train.steps=40", "output.checkpoint_every=4"]
    slow = {"HNET_TEST_WRITE_DELAY_MS": "150"}  # the first run takes seconds, so the others meet it running
    ref = os.path.join(cli.work, "alone")
    rc, _, err = cli.train(ref, sets=sets)
    check(rc == 0, "the run alone failed: %s" % err)

    d = os.path.join(cli.work, "shared")
    lock = os.path.join(d, "seed0.lock")
    first = start(cli, train_command(cli, d, sets), env=slow)
    try:
        wait_for(lambda: names_pid(lock, first.pid), 60)  # without locks (older hnet) it never does
        for what, extra, more in (("another train.seed", [], ["train.seed=2"]), ("--restart", ["--restart"], []),
                                  ("output.overwrite = true", [], ["train.seed=3", "output.overwrite=true"])):
            started = time.time()
            result = cli.train(d, *extra, sets=sets + more)
            expect_refused(cli, result, first, lock, time.time() - started, "second run, " + what)
        out, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    check(first.returncode == 0, "the first run failed (rc %d): %s" % (first.returncode, err.decode()))
    expect_same_run(ref, d, "the first of two runs")

    # The holder killed: the operating system releases its lock, --restart goes on at once.
    d = os.path.join(cli.work, "killed")
    holder = start(cli, train_command(cli, d, sets), env=slow)
    reached = wait_for(lambda: (checkpoint_step(d) or 0) >= 8, 120)
    holder.kill()
    holder.wait()
    check(reached, "the run to be killed never reached a checkpoint")
    started = time.time()
    rc, _, err = cli.train(d, "--restart", sets=sets)
    check(rc == 0, "--restart after the holder was killed failed: %s" % err)
    check(time.time() - started < 60, "--restart after a kill waited")
    expect_same_run(ref, d, "killed, then --restart")

    # Two sweeps onto one sweep.h5: the second is refused while the first writes.
    first = start(cli, [cli.hnet, "sweep", cli.empty, "--quiet"] +
                  sum((["--set", s] for s in TINY + sets + ["output.dir=" + ref]), []),
                  env={"HNET_TEST_WRITE_DELAY_MS": "4000"})
    sweep_lock = os.path.join(ref, "sweep.h5.lock")
    try:
        wait_for(lambda: names_pid(sweep_lock, first.pid), 60)
        started = time.time()
        result = cli.sweep(ref, sets=sets)
        expect_refused(cli, result, first, sweep_lock, time.time() - started, "second sweep")
        out, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    check(first.returncode == 0, "the first sweep failed: %s" % err.decode())
    read_everything(os.path.join(ref, "sweep.h5"))
    print("concurrent: second train (3 ways) and second sweep refused naming the holder; the first runs matched "
          "a run alone; a killed holder's --restart went on at once (%d commands)" % cli.count)


def part_output_dir(cli):
    quick_sets = ["train.steps=1000000"]  # would train for hours: a refusal must come first

    def refused(out_dir, needles, env=None, what=""):
        started = time.time()
        rc, out, err = cli.run(["train", cli.empty] + sum((["--set", s] for s in TINY + quick_sets +
                                                           ["output.dir=" + out_dir]), []), env=env)
        err = cli.expect_error((rc, out, err), out_dir, *needles, what=what)
        check("resolved deck" not in out, "%s: refused only after printing the deck" % what)
        check(time.time() - started < 30, "%s: the refusal took %.0f s" % (what, time.time() - started))
        return err

    a_file = os.path.join(cli.work, "a_file")
    with open(a_file, "w") as f:
        f.write("not a directory\n")
    refused(os.path.join(a_file, "run"), ["cannot create output.dir", "Not a directory (ENOTDIR)"],
            what="output.dir below a file")
    d = os.path.join(cli.work, "not_writable", "run")
    refused(d, ["cannot write in output.dir", "Permission denied (EACCES)"], env={"HNET_FAULT_IO": "EACCES"},
            what="output.dir not writable")
    check(not os.path.exists(os.path.dirname(d)), "a refused run left %s behind" % os.path.dirname(d))
    d = os.path.join(cli.work, "small_disk", "run")
    err = refused(d, ["not enough free space in output.dir", "one checkpoint of 1 seed group(s) needs",
                      "(100000 bytes) is free"], env={"HNET_TEST_FREE_BYTES": "100000"}, what="too little space")
    check(not os.path.exists(os.path.dirname(d)), "a refused run left %s behind" % os.path.dirname(d))

    # sweep: its file's directory, and room for the file; an earlier sweep.h5 stays as it was.
    good = os.path.join(cli.work, "good")
    rc, _, err = cli.train(good, sets=["train.steps=4"])
    check(rc == 0, "training for the sweep failed: %s" % err)
    rc, _, err = cli.run(["sweep", cli.empty, "--output", os.path.join(a_file, "sweep.h5")] +
                         sum((["--set", s] for s in TINY + ["train.steps=4", "output.dir=" + good]), []))
    cli.expect_error((rc, "", err), "Not a directory (ENOTDIR)", a_file, what="sweep --output below a file")
    rc, _, err = cli.sweep(good, sets=["train.steps=4"])
    check(rc == 0, "the sweep failed: %s" % err)
    before = snapshot(good)
    rc, out, err = cli.run(["sweep", cli.empty] + sum((["--set", s] for s in TINY + ["train.steps=4",
                                                                                     "output.dir=" + good]), []),
                           env={"HNET_TEST_FREE_BYTES": "10"})
    cli.expect_error((rc, out, err), "not enough free space for", os.path.join(good, "sweep.h5"), what="sweep, no room")
    expect_unchanged(before, good, "sweep, no room")

    # Real file systems where mounting is allowed: a read-only one, and one too small.
    mount = Tmpfs(os.path.join(cli.work, "tmpfs"), 64 * 1024)
    try:
        if not mount.mounted:
            print("output dir: no tmpfs (%s); the injected cases above stand in for it" % mount.reason)
        else:
            refused(os.path.join(mount.path, "run"), ["not enough free space in output.dir", "(statvfs of "],
                    what="a 64 kB tmpfs")
            check(os.listdir(mount.path) == [], "a refused run wrote into the tmpfs: %s" % os.listdir(mount.path))
            subprocess.run(["mount", "-o", "remount,ro", mount.path], check=True)
            refused(os.path.join(mount.path, "run"), ["cannot create output.dir", "Read-only file system (EROFS)"],
                    what="a read-only tmpfs, a new directory")
            refused(mount.path, ["cannot write in output.dir", "Read-only file system (EROFS)"],
                    what="a read-only tmpfs")
            print("output dir: a real 64 kB and a read-only tmpfs refused")
    finally:
        mount.close()
    print("output dir: every unusable output.dir refused before the deck, naming it and the reason (%d commands)"
          % cli.count)


PARTS = {"full_disk": part_full_disk, "checkpoint_size": part_checkpoint_size, "concurrent": part_concurrent,
         "output_dir": part_output_dir}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hnet", required=True)
    parser.add_argument("--work", required=True, help="scratch directory (emptied)")
    parser.add_argument("--mpiexec", default="mpiexec")
    parser.add_argument("--part", choices=sorted(PARTS) + ["all"], default="all")
    args = parser.parse_args()
    if os.path.ismount(os.path.join(args.work, "tmpfs")):  # left by an interrupted earlier run
        subprocess.run(["umount", os.path.join(args.work, "tmpfs")])
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    cli = Cli(args)
    try:
        for name in sorted(PARTS) if args.part == "all" else [args.part]:
            PARTS[name](cli)
    except Failure as e:
        print("FAILED: %s" % e, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
