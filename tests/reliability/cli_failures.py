#!/usr/bin/env python3
"""Failure handling of the hnet command line (README, "Reliability"), one part per ctest test:

  bad_decks     malformed decks through `hnet train/sweep/generate`: exit 1, "hnet: error:" with
                file:line, and no output directory or file created
  nonfinite     a NaN/Inf loss or gradient (injected with the test-only HNET_FAULT_NONFINITE_STEP)
                stops the run naming the step and the seed group and leaves the last checkpoint
                and results byte for byte as they were; train.nonfinite = "skip" skips and counts
  broken_files  truncated, empty, foreign and inconsistent files given to `train --restart`,
                `sweep` and `draw` (checkpoints, results, saved models, sweep files) are refused
                naming the file; nothing is half-written
  memory        decks that would not fit in memory are refused before allocating, with the size
                needed and the size available (HNET_TEST_AVAILABLE_BYTES stands in for a small
                machine); ranks on one node are added up

Run with a Python that imports h5py (ctest uses the one CMake found).
"""
import argparse
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np

TINY = [
    "target.n=4", "model.d=8", "model.heads=2", "model.blocks=1", "model.latent=2", "model.identity_dim=4",
    "model.phi_hidden=8", "model.phi_dim=4", "train.batch_beta=4", "train.batch_x=32", "train.warmup_steps=2",
    "output.log_every=1000000", "output.save_models=2", "sweep.beta_points=3", "sweep.generation_seeds=2",
    "sweep.sizes=[8]", "task.eval_size=256",
]


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


class Cli:
    def __init__(self, args):
        self.hnet, self.mpiexec, self.work = args.hnet, args.mpiexec, args.work
        self.empty = os.path.join(self.work, "empty.toml")
        open(self.empty, "w").close()
        self.count = 0

    def run(self, argv, env=None, ranks=1, timeout=120, cwd=None):
        full_env = dict(os.environ)
        full_env.update({"OMP_NUM_THREADS": "1", "OMP_PROC_BIND": "false", "OMPI_ALLOW_RUN_AS_ROOT": "1",
                         "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_rmaps_base_oversubscribe": "1"})
        full_env.update(env or {})
        cmd = [self.hnet] + argv
        if ranks > 1:
            cmd = [self.mpiexec, "-n", str(ranks), "--oversubscribe"] + cmd
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, timeout=timeout,
                           cwd=cwd)
        self.count += 1
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def train(self, out, *extra, deck=None, env=None, ranks=1, sets=()):
        argv = ["train", deck or self.empty, "--quiet"] + list(extra)
        for s in TINY + list(sets) + ["output.dir=" + out]:
            argv += ["--set", s]
        return self.run(argv, env=env, ranks=ranks)

    def sweep(self, out, sets=(), deck=None):
        argv = ["sweep", deck or self.empty, "--quiet"]
        for s in TINY + list(sets) + ["output.dir=" + out]:
            argv += ["--set", s]
        return self.run(argv)

    def expect_error(self, result, *needles, what=""):
        rc, out, err = result
        check(rc == 1, "%s: exit code %d, expected 1\nstdout: %s\nstderr: %s" % (what, rc, out[-2000:], err))
        check("hnet: error:" in err, "%s: no 'hnet: error:' on stderr: %s" % (what, err))
        for n in needles:
            if isinstance(n, re.Pattern):
                check(n.search(err), "%s: the message does not match %s: %s" % (what, n.pattern, err))
            else:
                check(n in err, "%s: the message does not name '%s': %s" % (what, n, err))
        return err


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def snapshot(directory):
    """Every file under a directory with its digest: a failed command must leave it as it was.
    Lock files (<job>.lock) are the exception: every run takes its jobs' locks and writes its
    host and PID into them."""
    files = {}
    for path in glob.glob(os.path.join(directory, "**"), recursive=True):
        if os.path.isfile(path) and not path.endswith(".lock"):
            files[os.path.relpath(path, directory)] = digest(path)
    return files


def expect_unchanged(before, directory, what):
    after = snapshot(directory)
    check(after == before, "%s: %s changed: added %s, removed %s, modified %s" % (
        what, directory, sorted(set(after) - set(before)), sorted(set(before) - set(after)),
        sorted(k for k in before if k in after and before[k] != after[k])))


def read_everything(path):
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: obj[()] if isinstance(obj, h5py.Dataset) else None)


def no_temporaries(directory, what):
    left = glob.glob(os.path.join(directory, "**", "*.tmp.*"), recursive=True)
    check(not left, "%s: temporary files left: %s" % (what, left))


# ---------------------------------------------------------------------------------------------

def part_bad_decks(cli):
    cases = [
        ("wrong type", '[train]\nsteps = "many"\n', ["train.steps", ":2:"]),
        ("unknown key", "[train]\nstepz = 5\n", ["train.stepz", "unknown key", ":2:"]),
        ("unknown section", "[trian]\nsteps = 5\n", ["unknown section", ":1:"]),
        ("truncated", "[model]\nd = 8\n[train]\nste", ["syntax", ":3:"]),
        ("truncated string", '[output]\ndir = "results/qu', ["syntax", ":2:"]),
        ("invalid UTF-8", b"[output]\ndir = \"r\xff\xfe\"\n", ["utf-8", ":2:"]),
        ("binary garbage", bytes(range(256)) * 3, ["syntax", ":1:"]),
        ("NaN", "[train]\nlr = nan\n", ["train.lr", "finite", ":2:"]),
        ("infinity", "[model]\nu_init = -inf\n", ["model.u_init", "finite", ":2:"]),
        ("2^70", "[train]\nbatch_x = 1180591620717411303424\n", ["not representable", ":2:"]),
        ("1e400", "[train]\nlr = 1e400\n", ["1e400", ":2:"]),
        ("zero size", "[target]\nn = 0\n", ["target.n", ":2:"]),
        ("negative size", "[train]\nbatch_beta = -4\n", ["train.batch_beta", ":2:"]),
        ("duplicate key", "[train]\nsteps = 5\nsteps = 6\n", ["redefine", ":3:"]),
        ("wrong list element", '[sweep]\nsizes = [4, "8"]\n', ["sweep.sizes[1]", ":2:"]),
        ("cross-key", "[model]\nheads = 3\n", ["model.heads", ":2:"]),
    ]
    for i, (what, text, needles) in enumerate(cases):
        out = os.path.join(cli.work, "deck%02d_out" % i)
        deck = os.path.join(cli.work, "deck%02d.toml" % i)
        body = text if isinstance(text, bytes) else text.encode()
        # The output directory is named in the deck too, before the damage, wherever TOML allows.
        if what not in ("binary garbage", "truncated string", "invalid UTF-8"):
            body = ('# a malformed deck\n').encode() + body
            needles = [re.sub(r":(\d+):", lambda m: ":%d:" % (int(m.group(1)) + 1), n) for n in needles]
        with open(deck, "wb") as f:
            f.write(body)
        commands = [["train", deck, "--set", "output.dir=" + out]]
        if i < 4:  # the other commands read decks the same way: a few cases suffice
            commands += [["train", deck, "--restart", "--set", "output.dir=" + out],
                         ["sweep", deck, "--set", "output.dir=" + out],
                         ["generate", deck, "--beta", "1e-3", "--set", "output.dir=" + out]]
        for command in commands:
            err = cli.expect_error(cli.run(command), deck, *needles, what="%s (%s)" % (what, command[0]))
            check(re.search(re.escape(deck) + r":\d+:\d+: ", err), "%s: no file:line:column in: %s" % (what, err))
            check(not os.path.exists(out), "%s (%s): %s was created" % (what, command[0], out))
    # Without output.dir anywhere: the default (results/quick) is relative to the working directory.
    cwd = os.path.join(cli.work, "cwd")
    os.makedirs(cwd)
    with open(os.path.join(cwd, "bad.toml"), "w") as f:
        f.write("[train]\nsteps = 0\n")
    for command in (["train", "bad.toml"], ["train", "bad.toml", "--restart"], ["sweep", "bad.toml"]):
        cli.expect_error(cli.run(command, cwd=cwd), "bad.toml:2:", what="default output.dir")
        check(os.listdir(cwd) == ["bad.toml"], "%s created %s" % (command, os.listdir(cwd)))
    # Not a deck at all: a missing path and a directory.
    for what, deck in (("missing deck", os.path.join(cli.work, "no_such.toml")), ("directory as deck", cli.work)):
        out = os.path.join(cli.work, "missing_out")
        cli.expect_error(cli.run(["train", deck, "--set", "output.dir=" + out]), deck, what=what)
        check(not os.path.exists(out), "%s: %s was created" % (what, out))
    # An empty deck is a valid deck of defaults (checked cheaply with `hnet deck`).
    rc, out, err = cli.run(["deck", cli.empty])
    check(rc == 0 and "[train]" in out, "an empty deck is refused: %s" % err)
    print("bad decks: %d commands refused with file:line and nothing created" % cli.count)


def part_nonfinite(cli):
    sets = ["train.steps=20", "output.checkpoint_every=5"]
    base = os.path.join(cli.work, "nf_base")
    rc, out, err = cli.train(base, "--stop-after-steps", "10", sets=sets)
    check(rc == 0, "the run before the failure failed: %s" % err)
    for fault, step in (("12", 12), ("14", 14), ("12:loss", 12), ("13:inf", 13)):
        d = os.path.join(cli.work, "nf_" + fault.replace(":", "_"))
        shutil.copytree(base, d)
        before = snapshot(d)
        err = cli.expect_error(cli.train(d, "--restart", sets=sets, env={"HNET_FAULT_NONFINITE_STEP": fault}),
                               "step %d " % step, "seed group 0", "at step 10, is intact",
                               "train.nonfinite", what="fault " + fault)
        expect_unchanged(before, d, "fault " + fault)
        for path in glob.glob(os.path.join(d, "**", "*.h5"), recursive=True):
            read_everything(path)
    # Before the first checkpoint: nothing to keep, and no result is written.
    d = os.path.join(cli.work, "nf_early")
    cli.expect_error(cli.train(d, sets=sets, env={"HNET_FAULT_NONFINITE_STEP": "2"}), "step 2 ", "seed group 0",
                     "no checkpoint had been written yet", what="early fault")
    check(not glob.glob(os.path.join(d, "**", "*.h5*"), recursive=True), "a failed run wrote files: %s"
          % glob.glob(os.path.join(d, "**", "*.h5*"), recursive=True))
    # Two seed groups at two ranks: the failing group is named; both checkpoints stay intact.
    d = os.path.join(cli.work, "nf_mpi")
    mpi_sets = sets + ["parallel.seeds=2"]
    rc, _, err = cli.train(d, "--stop-after-steps", "10", sets=mpi_sets, ranks=2)
    check(rc == 0, "two seed groups: the run before the failure failed: %s" % err)
    before = snapshot(d)
    cli.expect_error(cli.train(d, "--restart", sets=mpi_sets, ranks=2, env={"HNET_FAULT_NONFINITE_STEP": "11"}),
                     "step 11 ", re.compile(r"seed group [01] \(job seed[01];"), what="two seed groups")
    expect_unchanged(before, d, "two seed groups")

    # Skipping: the run goes on, counts the steps in the log and in state/skipped_steps, and a
    # restart across the skipped steps gives the same bits.
    skip = sets + ["train.nonfinite=skip"]
    faults = {"HNET_FAULT_NONFINITE_STEP": "3,7:loss,9:inf"}
    whole = os.path.join(cli.work, "skip_whole")
    rc, out, err = cli.run(["train", cli.empty] + sum((["--set", s] for s in TINY + skip + ["output.dir=" + whole]), []),
                           env=faults)
    check(rc == 0, "skip: the run failed: %s" % err)
    for step in (3, 7, 9):
        check("step %d: non-finite loss or gradient, step skipped" % step in out, "skip: step %d not logged:\n%s"
              % (step, out))
    check("3 steps skipped for non-finite values" in out, "skip: no count in the log:\n%s" % out)
    with h5py.File(os.path.join(whole, "seed0.h5"), "r") as f:
        check(int(f["state/skipped_steps"][0]) == 3, "skip: state/skipped_steps = %s" % f["state/skipped_steps"][()])
        check(np.all(np.isfinite(f["theta"][()])), "skip: theta is not finite")
        g, j = f["history/grad_norm"][()], f["history/objective"][()]
        check(np.isnan(g[3]) and np.isinf(g[9]) and np.isnan(j[7]), "skip: the history does not show the faults")
        check(np.isfinite(np.delete(g, [3, 9])).all(), "skip: other steps are not finite")
    parts = os.path.join(cli.work, "skip_parts")
    for extra in (["--stop-after-steps", "8"], ["--restart"]):
        rc, _, err = cli.train(parts, *extra, sets=skip, env=faults)
        check(rc == 0, "skip with a restart failed: %s" % err)
    with h5py.File(os.path.join(whole, "seed0.h5"), "r") as a, h5py.File(os.path.join(parts, "seed0.h5"), "r") as b:
        for name in ("theta", "state/skipped_steps", "history/loss", "history/grad_norm"):
            check(a[name][()].tobytes() == b[name][()].tobytes(), "skip: %s differs after a restart" % name)
    print("non-finite: stop keeps checkpoint and results byte for byte, skip counts 3 steps (%d commands)" % cli.count)


def part_broken_files(cli):
    good = os.path.join(cli.work, "good")
    rc, _, err = cli.train(good, sets=["train.steps=6", "output.checkpoint_every=3"])
    check(rc == 0, "training the reference run failed: %s" % err)
    rc, _, err = cli.sweep(good)
    check(rc == 0, "the reference sweep failed: %s" % err)
    results, checkpoint, sweep = (os.path.join(good, p) for p in ("seed0.h5", "checkpoints/seed0.h5", "sweep.h5"))
    raw = {p: open(p, "rb").read() for p in (results, checkpoint, sweep)}
    text = b"this is not an HDF5 file\n" * 40

    def foreign(path):
        with h5py.File(path, "w") as f:
            f["x"] = np.arange(3)

    def edit(source, change):
        def make(path):
            shutil.copy(source, path)
            with h5py.File(path, "a") as f:
                change(f)
        return make

    def replace(name, transform):
        def change(f):
            v = f[name][()]
            del f[name]
            f[name] = transform(v)
        return change

    def writer(data):
        def make(path):
            with open(path, "wb") as f:
                f.write(data)
        return make

    def edit_in_place(change):
        def make(path):
            with h5py.File(path, "a") as f:
                change(f)
        return make

    def saved_model(damage, step=6):
        """Damages the file of the model saved at `step`, next to the job file `path`."""
        return lambda path: damage(os.path.join(os.path.dirname(os.path.dirname(path))
                                                if os.path.basename(os.path.dirname(path)) == "checkpoints"
                                                else os.path.dirname(path), "models", "seed0", "step_%d.h5" % step))

    common = [("truncated", lambda src: writer(raw[src][: len(raw[src]) // 2])),
              ("truncated to 100 bytes", lambda src: writer(raw[src][:100])),
              ("empty", lambda src: writer(b"")),
              ("text", lambda src: writer(text)),
              ("foreign HDF5", lambda src: foreign)]

    # train --restart: the checkpoint.
    checkpoint_cases = [(w, f(checkpoint)) for w, f in common] + [
        ("results in place of the checkpoint", lambda p: shutil.copy(results, p)),
        ("no theta", edit(checkpoint, lambda f: f.__delitem__("theta"))),
        ("no Adam state", edit(checkpoint, lambda f: f.__delitem__("optimizer/adam_v"))),
        ("short history", edit(checkpoint, replace("history/objective", lambda v: v[:3]))),
        ("short network history", edit(checkpoint, replace("history/network_loss", lambda v: v[:2]))),
        ("empty skipped_steps", edit(checkpoint, replace("state/skipped_steps", lambda v: v[:0]))),
        ("theta of the wrong length", edit(checkpoint, replace("theta", lambda v: v[:-1]))),
        ("non-finite theta", edit(checkpoint, replace("theta", lambda v: np.full_like(v, np.nan)))),
        ("models out of order", edit(checkpoint, replace("models/steps", lambda v: v[::-1]))),
        ("another model", edit(checkpoint, lambda f: f.attrs.__setitem__("model_section", "[model]\nd = 16\n"))),
        ("a saved model missing", saved_model(lambda p: os.remove(p))),
        ("a saved model of the wrong length", saved_model(edit_in_place(replace("theta", lambda v: v[:-1])))),
    ]
    for i, (what, make) in enumerate(checkpoint_cases):
        d = os.path.join(cli.work, "restart%02d" % i)
        shutil.copytree(good, d)
        os.remove(os.path.join(d, "sweep.h5"))
        make(os.path.join(d, "checkpoints", "seed0.h5"))
        before = snapshot(d)
        cli.expect_error(cli.train(d, "--restart", sets=["train.steps=9", "output.checkpoint_every=3"]),
                         os.path.join(d, "checkpoints", "seed0.h5"), "cannot restart", what="restart: " + what)
        expect_unchanged(before, d, "restart: " + what)

    # sweep: the job's results file. A previous sweep.h5 must survive a failed sweep untouched.
    results_cases = [(w, f(results)) for w, f in common] + [
        ("a checkpoint's kind removed", edit(results, lambda f: f.attrs.__delitem__("kind"))),
        ("no saved models", edit(results, lambda f: f.__delitem__("models/steps"))),
        ("a saved model missing", saved_model(lambda p: os.remove(p))),
        ("a saved model too short", saved_model(edit_in_place(replace("theta", lambda v: v[:10])))),
        ("a saved model of another run", saved_model(edit_in_place(lambda f: f.attrs.__setitem__("seed", 7)))),
        ("a saved model not HDF5", saved_model(writer(text))),
    ]
    for i, (what, make) in enumerate(results_cases):
        for keep_old in (False, True):
            d = os.path.join(cli.work, "sweep%02d%s" % (i, "_old" if keep_old else ""))
            shutil.copytree(good, d)
            if not keep_old:
                os.remove(os.path.join(d, "sweep.h5"))
            make(os.path.join(d, "seed0.h5"))
            before = snapshot(d)
            cli.expect_error(cli.sweep(d), os.path.join(d, "seed0.h5"), what="sweep: " + what)
            expect_unchanged(before, d, "sweep: " + what)
    d = os.path.join(cli.work, "sweep_missing_step")
    shutil.copytree(good, d)
    os.remove(os.path.join(d, "sweep.h5"))
    cli.expect_error(cli.sweep(d, sets=["sweep.steps=[5]"]), os.path.join(d, "seed0.h5"), "no saved model at step 5",
                     what="sweep: a step that was not saved")
    check(not os.path.exists(os.path.join(d, "sweep.h5")), "sweep: a failed sweep wrote sweep.h5")

    # A killed sweep's temporary (sweep.h5.tmp.<pid of a dead process>) goes at the next sweep; a
    # live process's temporary and names that are not a writer's stay.
    d = os.path.join(cli.work, "sweep_stale_temporary")
    shutil.copytree(good, d)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = os.path.join(d, "sweep.h5.tmp.%d" % dead.pid)
    kept = [os.path.join(d, "sweep.h5.tmp.%d" % os.getpid()), os.path.join(d, "sweep.h5.tmp.notes")]
    for path in [stale] + kept:
        with open(path, "wb") as f:
            f.write(b"left by a writer that was killed")
    rc, _, err = cli.sweep(d)
    check(rc == 0, "sweep over a directory with stale temporaries failed: %s" % err)
    check(not os.path.exists(stale), "sweep: the temporary of a dead writer was not removed")
    check(all(os.path.exists(p) for p in kept), "sweep: removed a temporary that was not a dead writer's")
    read_everything(os.path.join(d, "sweep.h5"))
    shutil.rmtree(d)  # its kept look-alikes would trip the no-temporaries check of this part

    # Sweeping with a deck other than the training deck would analyse other networks: refused.
    for what, sets, needle in [("another run seed", ["train.seed=7"], "was trained with run seed 1"),
                               ("another model", ["model.prior_scale=0.1"], "was trained with a different [model]")]:
        before = snapshot(good)
        cli.expect_error(cli.sweep(good, sets=sets), os.path.join(good, "seed0.h5"), needle, what="sweep: " + what)
        expect_unchanged(before, good, "sweep: " + what)

    # draw: the sweep file.
    sweep_cases = [(w, f(sweep)) for w, f in common] + [
        ("a results file", lambda p: shutil.copy(results, p)),
        ("a network dataset missing", edit(sweep, lambda f: f.__delitem__("networks/n4/W0"))),
        ("records of unequal length", edit(sweep, replace("records/n", lambda v: v[:5]))),
        ("a row beyond the networks", edit(sweep, replace("records/network_row", lambda v: v + 10 ** 9))),
        ("networks of the wrong shape", edit(sweep, replace("networks/n4/W0", lambda v: v[:, :2, :]))),
    ]
    draw_failures = []
    for i, (what, make) in enumerate(sweep_cases):
        d = os.path.join(cli.work, "draw%02d" % i)
        os.makedirs(d)
        path = os.path.join(d, "sweep.h5")
        make(path)
        before = snapshot(d)
        try:
            cli.expect_error(cli.run(["draw", path, "--beta", "1e-3"]), path, what="draw: " + what)
            expect_unchanged(before, d, "draw: " + what)
        except Failure as e:
            draw_failures.append(str(e))
    check(not draw_failures, "draw:\n" + "\n".join(draw_failures))
    no_temporaries(cli.work, "broken files")
    print("broken files: %d restart, %d sweep, %d draw cases refused naming the file, nothing written"
          % (len(checkpoint_cases), 2 * len(results_cases) + 1, len(sweep_cases)))


def needed_bytes(err):
    m = re.search(r"would need [^(]*\((\d+) bytes\)", err)
    check(m, "no 'would need ... (N bytes)' in: %s" % err)
    return int(m.group(1))


def part_memory(cli):
    available = re.compile(r"but only [^(]*\((\d+) bytes\) is available \(")
    # A GPU build checks the device memory too and then says so ("not enough device memory").
    def not_enough(what):
        return re.compile(what + r": not enough (device )?memory")
    for what, sets in (("target.n=2048", ["target.n=2048"]),
                       ("batch_x=1048576 with batch_beta=4096", ["train.batch_x=1048576", "train.batch_beta=4096"]),
                       ("a long history", ["train.steps=1000000000", "train.batch_beta=1048576", "train.batch_x=1"])):
        out = os.path.join(cli.work, "mem_" + re.sub(r"\W", "_", what))
        argv = ["train", cli.empty, "--set", "output.dir=" + out] + sum((["--set", s] for s in sets), [])
        err = cli.expect_error(cli.run(argv), not_enough("train"), available, "Nothing was allocated",
                               what="train " + what)
        check(needed_bytes(err) > int(available.search(err).group(1)), "train %s: the sizes do not add up" % what)
        check(not os.path.exists(out), "train %s: %s was created" % (what, out))

    # A small machine, simulated: the tiny deck is refused below its need and runs above it.
    out = os.path.join(cli.work, "mem_tiny")
    err = cli.expect_error(cli.train(out, sets=["train.steps=2"], env={"HNET_TEST_AVAILABLE_BYTES": "100000"}),
                           "(100000 bytes) is available",
                           "model workspace for 4 networks", what="tiny deck on a small machine")
    need = needed_bytes(err)
    check(not os.path.exists(out), "a refused run created %s" % out)
    rc, _, err = cli.train(out, sets=["train.steps=2"], env={"HNET_TEST_AVAILABLE_BYTES": str(need)})
    check(rc == 0, "the tiny deck is refused with exactly its need available: %s" % err)
    # Two ranks on one node need twice as much; ranks of a node are added up.
    out = os.path.join(cli.work, "mem_two_ranks")
    sets = ["train.steps=2", "parallel.seeds=2"]
    cli.expect_error(cli.train(out, sets=sets, ranks=2, env={"HNET_TEST_AVAILABLE_BYTES": str(need * 3 // 2)}),
                     "the 2 ranks on this node", what="two ranks")
    check(not os.path.exists(out), "a refused run created %s" % out)
    rc, _, err = cli.train(out, sets=sets, ranks=2, env={"HNET_TEST_AVAILABLE_BYTES": str(need * 2)})
    check(rc == 0, "two ranks with room for both are refused: %s" % err)

    # sweep and generate.
    good = os.path.join(cli.work, "mem_good")
    rc, _, err = cli.train(good, sets=["train.steps=2"])
    check(rc == 0, "training for the sweep failed: %s" % err)
    before = snapshot(good)
    cli.expect_error(cli.sweep(good, sets=["sweep.generation_seeds=1048576", "task.eval_size=16777216",
                                           "sweep.beta_points=1", "sweep.sizes=[]"]),
                     not_enough("sweep"), available, "evaluation on 16777216 inputs", what="sweep")
    cli.expect_error(cli.sweep(good, sets=["sweep.beta_points=100000", "sweep.generation_seeds=100000"]),
                     "more than one MPI gather can carry", what="sweep with too many records")
    expect_unchanged(before, good, "sweep")
    out = os.path.join(cli.work, "mem_generate")
    cli.expect_error(cli.run(["generate", cli.empty, "--beta", "1e-3", "--n", "4096", "--set", "task.eval_size=16777216",
                              "--set", "output.dir=" + out]), not_enough("generate"), available, what="generate")
    check(not os.path.exists(out), "generate: %s was created" % out)
    print("memory: oversized decks refused before allocating with both sizes (%d commands)" % cli.count)


PARTS = {"bad_decks": part_bad_decks, "nonfinite": part_nonfinite, "broken_files": part_broken_files,
         "memory": part_memory}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hnet", required=True)
    parser.add_argument("--work", required=True, help="scratch directory (emptied)")
    parser.add_argument("--mpiexec", default="mpiexec")
    parser.add_argument("--part", choices=sorted(PARTS) + ["all"], default="all")
    args = parser.parse_args()
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
