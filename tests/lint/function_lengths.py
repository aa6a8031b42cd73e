#!/usr/bin/env python3
"""Fails when a function in src/ or drivers/ is longer than the house limit (120 lines).

A function is a definition whose header ends a line with `{` at namespace or class level (indent 0
or 2, the only levels the code base defines functions at), whose header holds a parameter list,
and which is not a control statement, a lambda or a type; its length runs from the header's first
line to the closing brace at the same indent. Tables that are data, not logic, may be exempted by
name below, with the reason.

Usage: function_lengths.py ROOT [--limit 120] [--self-test]
"""
import argparse
import os
import re
import sys
import tempfile

NOT_FUNCTIONS = re.compile(r"^\s*(if|for|while|switch|else|do|try|catch|namespace|struct|class|enum|union|return)\b")
# Data tables written as code, one entry per item, may be exempted here by name, with the reason.
EXEMPT = {}


def functions(path, text):
    lines = text.split("\n")
    k = 0
    while k < len(lines):
        stripped = lines[k].rstrip()
        if not stripped.endswith("{") or NOT_FUNCTIONS.match(lines[k]) or stripped.lstrip().startswith(("//", "#")):
            k += 1
            continue
        # The header may span lines: walk back to its first line (after a line ending ; } { : or a blank).
        start = k
        while start > 0 and lines[start - 1].strip() and not lines[start - 1].rstrip().endswith((";", "}", "{", ":")) \
                and not lines[start - 1].lstrip().startswith(("//", "#")):
            start -= 1
        indent = len(lines[start]) - len(lines[start].lstrip(" "))
        header = " ".join(l.strip() for l in lines[start:k + 1])
        if indent not in (0, 2) or NOT_FUNCTIONS.match(header) or "(" not in header or ")" not in header \
                or "[" in header.split("(")[0] or "=" in header.split("(")[0]:
            k += 1
            continue
        name = re.findall(r"([A-Za-z_~][A-Za-z_0-9:]*)\s*\(", header)
        end = k + 1
        while end < len(lines) and not (lines[end].startswith(" " * indent + "}") and
                                         len(lines[end]) - len(lines[end].lstrip(" ")) == indent):
            end += 1
        yield (name[0] if name else "?"), start + 1, end - start + 1
        k = end + 1


def scan(root, limit):
    problems = []
    for sub in ("src", "drivers"):
        for dirpath, _, names in os.walk(os.path.join(root, sub)):
            for name in sorted(names):
                if not name.endswith((".cpp", ".hpp")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                for function, line, length in functions(path, text):
                    short = function.split("::")[-1]
                    if length > limit and short not in EXEMPT:
                        problems.append(f"{os.path.relpath(path, root)}:{line}: {function} is {length} lines "
                                        f"(limit {limit}): split it into named steps")
    return problems


def self_test():
    long_body = "\n".join(f"  x += {i};" for i in range(130))
    sample = ("namespace hnet {\n\nint short_one(int x) {\n  return x;\n}\n\n"
              f"int long_one(int x,\n             int y) {{\n{long_body}\n  return x;\n}}\n\n}}  // namespace hnet\n")
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "src"))
        with open(os.path.join(root, "src", "sample.cpp"), "w") as f:
            f.write(sample)
        problems = scan(root, 120)
    ok = len(problems) == 1 and "long_one" in problems[0]
    print("function_lengths self-test:", "ok" if ok else f"FAILED: {problems}")
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root", nargs="?")
    parser.add_argument("--limit", type=int, default=120)
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    problems = scan(args.root, args.limit)
    for p in problems:
        print(p)
    print(f"function_lengths: {len(problems)} function(s) over {args.limit} lines")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
