#!/usr/bin/env python3
"""No include cycle among the modules of src/hnet (ctest label `lint`).

A module is a header and its source (job_file.hpp + job_file.cpp). Module A depends on module B
when either of A's files has `#include "hnet/B.hpp"`. A cycle (job_file needs trainer's types
while the trainer writes job files) means neither can be understood, tested or changed alone, so
every cycle is reported with its path.

Usage:
  include_cycles.py DIR            check DIR (src/hnet): exit 1 and print every cycle found
  include_cycles.py --self-test    a generated tree with a known cycle must be rejected, naming it,
                                   and the same tree without the cycle accepted
"""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s*"hnet/([A-Za-z0-9_]+)\.hpp"', re.M)
COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)


def module_graph(directory):
    graph = {}
    for name in sorted(os.listdir(directory)):
        stem, ext = os.path.splitext(name)
        if ext not in (".hpp", ".cpp", ".in"):
            continue
        stem = stem.split(".")[0]  # version_config.hpp.in
        with open(os.path.join(directory, name), encoding="utf-8") as f:
            text = COMMENT.sub("", f.read())
        deps = graph.setdefault(stem, set())
        deps.update(d for d in INCLUDE.findall(text) if d != stem)
    return graph


def cycles(graph):
    """Every elementary cycle reachable by depth-first search, each reported once."""
    found, seen = [], set()
    state = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycle = path[path.index(dep):] + [dep]
                key = frozenset(cycle)
                if key not in seen:
                    seen.add(key)
                    found.append(cycle)
            elif state.get(dep) is None:
                visit(dep, path)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def check(directory):
    graph = module_graph(directory)
    found = cycles(graph)
    for cycle in found:
        print("include cycle: " + " -> ".join(cycle))
    return found


def self_test():
    with tempfile.TemporaryDirectory() as d:
        files = {"a.hpp": '#include "hnet/b.hpp"\n', "a.cpp": '#include "hnet/a.hpp"\n',
                 "b.hpp": "// #include \"hnet/a.hpp\" in a comment is no dependency\n",
                 "b.cpp": '#include "hnet/b.hpp"\n#include "hnet/c.hpp"\n',
                 "c.hpp": '#include <vector>\n', "c.cpp": '#include "hnet/a.hpp"\n'}
        for name, text in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        found = check(d)
        if [sorted(c[:-1]) for c in found] != [["a", "b", "c"]]:
            print("self-test: expected exactly the cycle a -> b -> c -> a, found %s" % found)
            return 1
        os.remove(os.path.join(d, "c.cpp"))
        if check(d):
            print("self-test: a tree without a cycle was rejected")
            return 1
    print("self-test: the cycle was found and the acyclic tree accepted")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    graph = module_graph(sys.argv[1])
    found = check(sys.argv[1])
    if found:
        return 1
    print("%d modules of %s, no include cycle" % (len(graph), sys.argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
