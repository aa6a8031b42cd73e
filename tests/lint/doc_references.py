#!/usr/bin/env python3
"""The documents stay true to the tree (ctest label `lint`).

Code comments, decks, tests, scripts and the README cite the model document as "model.md §N"
(the deck schema, printed by `hnet deck`, in ASCII as "model.md 4-6"). Sections get renumbered
and documents move; a citation that names no section misleads whoever follows it. Checks, over
every text file of the tree (not .git, build directories or results):

  section      every "model.md §N" (also "§3–§7", "§8, §9.2", "model.md 1, 8", "model.md 4-6")
               names a numbered heading of docs/model.md; a range needs every section in it.
  outside      no file points outside the repository: nothing names the parent's shared/
               folder, where the documents lived before they moved into docs/.
  deck-key     with --hnet: every key of `hnet deck --reference` appears in docs/model.md as
               section.key, so the model document covers every deck option.

Usage:
  doc_references.py ROOT [--hnet HNET]   check the tree under ROOT
  doc_references.py --self-test          plant good and bad references in a temporary tree and
                                         pass only if exactly the bad ones are reported
Exit status: 0 clean (or self-test matched), 1 findings (or self-test mismatch), 2 usage.
"""
import os
import pathlib
import re
import subprocess
import sys
import tempfile

# Spelled in two parts so that this file does not report itself.
OUTSIDE = re.compile(r"\.\./+" + "shared" + r"\b")

NUMBER = r"\d+(?:\.\d+)*"
# "model.md §5.1", "model.md §3–§7", "model.md §8, §9.2": every later item carries its own §, so
# "model.md §7, 33 training seeds" cites §7 only. The § may follow a line break.
SECTION_FORM = re.compile(
    r"model\.md\s*(§\s*" + NUMBER + r"(?:\s*(?:[–—-]|,|and|to)\s*§\s*" + NUMBER + r")*)")
# The deck schema's ASCII form: "model.md 1, 8", "model.md 4-6" (same line only).
ASCII_FORM = re.compile(r"model\.md[ \t]+(" + NUMBER + r"(?:[ \t]*(?:-|,)[ \t]*" + NUMBER + r")*)(?![\d.]*\d)")
ITEM = re.compile(r"(" + NUMBER + r")(?:\s*[–—-]\s*§?\s*(" + NUMBER + r"))?")
HEADING = re.compile(r"^#{1,6}[ \t]+(" + NUMBER + r")\.?[ \t]", re.M)

SKIP_DIRS = {".git", "results", "__pycache__", "node_modules"}


def tree_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        here = pathlib.Path(dirpath)
        # Build trees (any folder CMake configured) hold copies and generated text, not sources.
        dirnames[:] = sorted(d for d in dirnames
                             if d not in SKIP_DIRS and not d.startswith("build")
                             and not (here / d / "CMakeCache.txt").exists())
        for name in sorted(filenames):
            if name == ".git":  # a worktree's pointer file
                continue
            path = here / name
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue  # pictures, archives: nothing to cite
            yield path, text


def model_sections(model_md):
    return set(HEADING.findall(model_md.read_text(encoding="utf-8")))


def cited_sections(body):
    """The sections a citation body names; a range a–b names every whole section between."""
    cited = []
    for start, end in ITEM.findall(body.replace("§", " ")):
        if not end:
            cited.append(start)
        elif "." not in start and "." not in end and int(start) <= int(end):
            cited.extend(str(k) for k in range(int(start), int(end) + 1))
        else:
            cited.extend([start, end])
    return cited


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def check_tree(root, deck_keys=None):
    root = pathlib.Path(root)
    findings = []
    model_md = root / "docs" / "model.md"
    if not model_md.is_file():
        return [f"{model_md}: missing (the model document every 'model.md §N' cites)"]
    sections = model_sections(model_md)
    for path, text in tree_files(root):
        rel = path.relative_to(root)
        for m in OUTSIDE.finditer(text):
            findings.append(f"{rel}:{line_of(text, m.start())}: outside: '{m.group(0)}' points outside the "
                            "repository (the documents are in docs/)")
        spans = []
        for form in (SECTION_FORM, ASCII_FORM):
            for m in form.finditer(text):
                if any(a <= m.start() < b for a, b in spans):
                    continue
                spans.append(m.span())
                for section in cited_sections(m.group(1)):
                    if section not in sections:
                        findings.append(f"{rel}:{line_of(text, m.start())}: section: '{' '.join(m.group(0).split())}' "
                                        f"cites §{section}, which docs/model.md does not have "
                                        f"(it has {', '.join(sorted(sections, key=section_key))})")
    if deck_keys is not None:
        model_text = model_md.read_text(encoding="utf-8")
        for key in deck_keys:
            if not re.search(re.escape(key) + r"(?![A-Za-z0-9_])", model_text):
                findings.append(f"docs/model.md: deck-key: {key} is a deck key (hnet deck --reference) "
                                "that the model document does not mention")
    return findings


def section_key(section):
    return [int(part) for part in section.split(".")]


def deck_reference_keys(hnet):
    text = subprocess.run([hnet, "deck", "--reference"], check=True, capture_output=True, text=True).stdout
    keys, section = [], None
    for line in text.splitlines():
        heading = re.match(r"^### \[(\w+)\]", line)
        if heading:
            section = heading.group(1)
            continue
        row = re.match(r"^\| `(\w+)` \|", line)
        if row and section:
            keys.append(f"{section}.{row.group(1)}")
    if len(keys) < 10:
        raise SystemExit(f"doc_references: '{hnet} deck --reference' listed only {len(keys)} keys:\n{text}")
    return keys


def self_test():
    """Plants citations whose verdict is known and checks that exactly the bad ones are found."""
    # Spelled in parts, so that the tree check does not find these samples in this file.
    M = "model" + ".md"
    good = [
        f"// the read-out ({M} §5.4)",
        f"# a range ({M} §1–§2) and a list ({M} §8, §9.2)",
        f"schema text ({M} 1, 8) and ({M} 4-5)",
        f"# paper deck: {M} §7, 33 training seeds",
        f"the lead of docs/{M} §11",
        f"a citation across lines: {M}\n§9.1 and {M} gives O1 = 0.1",
    ]
    bad = [  # (text, the finding each must give)
        (f"// missing section ({M} §12)", "§12"),
        (f"// missing subsection ({M} §5.9)", "§5.9"),
        (f"range past the end ({M} §10–§13)", "§12"),
        (f"ascii form ({M} 4-6)", "§6"),
        ("see ../" + f"shared/docs/{M}", "outside"),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        (root / "docs").mkdir()
        (root / "docs" / "model.md").write_text(
            "# Model\n## 1. Task\n## 2. Net\n## 4. Ids\n## 5. Hyper\n### 5.4 Read-out\n## 7. Train\n"
            "## 8. Eval\n## 9. Algorithms\n### 9.1 Order\n### 9.2 Sizes\n## 10. Pictures\n## 11. Known\n"
            "`task.input` and `model.d` are keys.\n", encoding="utf-8")
        (root / "good.cpp").write_text("\n".join(good) + "\n", encoding="utf-8")
        for k, (text, _) in enumerate(bad):
            (root / f"bad{k}.txt").write_text(text + "\n", encoding="utf-8")
        build = root / "build-x"
        build.mkdir()
        (build / "CMakeCache.txt").write_text("")
        (build / "copy.txt").write_text(f"{M} §99\n")  # build trees are not scanned
        findings = check_tree(root, deck_keys=["task.input", "model.d", "model.dx"])
    problems = []
    good_findings = [f for f in findings if f.startswith("good.cpp")]
    if good_findings:
        problems.append("reported good citations:\n  " + "\n  ".join(good_findings))
    for k, (text, expect) in enumerate(bad):
        mine = [f for f in findings if f.startswith(f"bad{k}.txt")]
        if not any(expect in f for f in mine):
            problems.append(f"missed bad citation {text!r} (expected a finding naming {expect}); got {mine}")
    if any(f.startswith("build-x") for f in findings):
        problems.append("scanned a build tree")
    key_findings = [f for f in findings if "deck-key" in f]
    if len(key_findings) != 1 or "model.dx" not in key_findings[0]:
        problems.append(f"deck keys: expected exactly model.dx reported, got {key_findings}")
    if problems:
        print("doc_references self-test FAILED:\n" + "\n".join(problems))
        return 1
    print(f"doc_references self-test: {len(bad)} planted bad citations and 1 missing key reported, "
          f"{len(good)} good ones accepted")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    args = argv[1:]
    hnet = None
    if "--hnet" in args:
        at = args.index("--hnet")
        if at + 1 >= len(args):
            print(__doc__)
            return 2
        hnet = args[at + 1]
        del args[at:at + 2]
    if len(args) != 1:
        print(__doc__)
        return 2
    findings = check_tree(args[0], deck_reference_keys(hnet) if hnet else None)
    for f in findings:
        print(f)
    if findings:
        print(f"doc_references: {len(findings)} finding(s)")
        return 1
    print("doc_references: every model.md citation resolves, nothing points outside the repository"
          + (", every deck key is in docs/model.md" if hnet else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
