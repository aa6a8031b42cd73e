#!/usr/bin/env python3
"""Kernel rules of architecture.md, checked on the source text (ctest label `lint`).

Everything in kernels/ must compile for CUDA and HIP. CI compiles the CUDA build but has no GPU to
run it, and the everyday build is OpenMP, where a host-only call inside a kernel compiles and
runs. These rules catch what the GPU compilers would reject, or what would silently misbehave on
a GPU, before anyone has a GPU at hand.

Rules (`rule-id`: where it applies; "src/" stands for src/ and drivers/):
  class-lambda       kernels/, src/: no KOKKOS_CLASS_LAMBDA (it copies *this to the device; a
                     kernel takes Views, never an object).
  default-capture    kernels/: no hand-written [=] / [&] (or [=, ...] / [&, ...]) lambdas;
                     KOKKOS_LAMBDA is the only capture, since a plain [=] lacks the device
                     annotation under CUDA and [&] captures host references.
  this-in-kernel     kernels/, src/: no `this` in a KOKKOS_LAMBDA body: it is the enclosing
                     host object, which the device cannot reach. (Inside a member function of a
                     device-side struct, KOKKOS_INLINE_FUNCTION, `this` is that struct and fine.)
  host-call          KOKKOS_LAMBDA and KOKKOS_(INLINE_|FORCEINLINE_)FUNCTION bodies, kernels/ and
                     src/: nothing that exists only on the host: std:: anything except
                     the fixed-width integer types (std::int64_t, std::size_t, ...), unqualified
                     or ::-qualified <cmath> functions (use hnet::compat:: or Kokkos::), printf and
                     friends, cout/cerr, new/delete, malloc/free (also kokkos_malloc), throw/try/
                     catch, typeid/dynamic_cast.
  kernel-label       kernels/, src/: every parallel_for/parallel_reduce/parallel_scan has a string
                     literal label starting "hnet::" as its first argument. Nested patterns
                     (first argument a TeamThreadRange/TeamVectorRange/ThreadVectorRange policy)
                     take no label and are exempt.
  view-label         kernels/, src/: every View constructed with a label has one starting
                     "hnet::" (a string literal, also inside Kokkos::view_alloc or
                     ViewAllocateWithoutInitializing). Constructions whose first argument is not
                     a string (unmanaged views over a pointer, scratch views, copies) have no
                     label and are exempt; a label passed in a variable cannot be seen here and is
                     left to the Kokkos Tools test (tests/tools), which sees every allocation.

Limits, on purpose: this is a text scanner, not a C++ parser. Comments and the contents of
string literals are blanked before matching, bodies are found by balancing brackets, and
anything it cannot parse (a KOKKOS_LAMBDA without a body) is reported rather than skipped.

Usage:
  kernel_rules.py ROOT                 check ROOT/kernels/*.hpp, ROOT/src/ and ROOT/drivers/
  kernel_rules.py --kernels FILE...    check files as if they were in kernels/
  kernel_rules.py --self-test SAMPLE   SAMPLE marks each line that must be rejected with
                                       `// lint-expect: rule-id[, rule-id]`; passes only if the
                                       findings are exactly those (every rule fires, nothing more)
Exit status: 0 clean (or self-test matched), 1 findings (or self-test mismatch), 2 usage.
"""
import bisect
import pathlib
import re
import sys

RULES = ("class-lambda", "default-capture", "this-in-kernel", "host-call", "kernel-label", "view-label")

# Types, not calls: the only std:: names a device body may use.
DEVICE_STD_TYPES = {
    "int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t",
    "size_t", "ptrdiff_t", "intptr_t", "uintptr_t",
}
CMATH = (
    "abs|fabs|fabsf|exp|expf|exp2|expm1|log|logf|log2|log10|log1p|sqrt|sqrtf|cbrt|pow|powf|hypot|"
    "sin|sinf|cos|cosf|tan|asin|acos|atan|atan2|sinh|cosh|tanh|tanhf|asinh|acosh|atanh|erf|erfc|"
    "tgamma|lgamma|floor|floorf|ceil|ceilf|round|lround|trunc|fmod|remainder|fmin|fmax|fma|"
    "isnan|isinf|isfinite|signbit|copysign|nextafter|ldexp|frexp"
)
PRINT = "printf|fprintf|sprintf|snprintf|vprintf|puts|fputs|putchar|perror"
ALLOC = "malloc|calloc|realloc|free|aligned_alloc|kokkos_malloc|kokkos_realloc|kokkos_free"
NESTED_POLICIES = re.compile(
    r"(Kokkos::)?(TeamThreadRange|TeamVectorRange|ThreadVectorRange|TeamThreadMDRange|"
    r"TeamVectorMDRange|ThreadVectorMDRange)\b")
DEVICE_FUNCTION = re.compile(r"\bKOKKOS_(INLINE_|FORCEINLINE_)?FUNCTION\b")
VIEW_TYPE_ROOTS = ("View", "View1", "View2", "View3", "V1", "V2", "V3")


class Source:
    """A file with comments blanked (`code`) and also string contents blanked (`masked`);
    both keep every offset and newline, so positions map back to lines."""

    def __init__(self, path, text):
        self.path = path
        self.text = text
        code, masked = [], []
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if text.startswith("//", i):
                j = text.find("\n", i)
                j = n if j < 0 else j
                code.append(" " * (j - i)); masked.append(" " * (j - i)); i = j
            elif text.startswith("/*", i):
                j = text.find("*/", i + 2)
                j = n if j < 0 else j + 2
                blank = re.sub(r"[^\n]", " ", text[i:j])
                code.append(blank); masked.append(blank); i = j
            elif c in "\"'" and not (c == "'" and i > 0 and (text[i - 1].isalnum())):
                # a string or character literal (a ' after a digit is a digit separator)
                j = i + 1
                while j < n and text[j] != c and text[j] != "\n":
                    j += 2 if text[j] == "\\" else 1
                j = min(j + 1, n)
                code.append(text[i:j])
                masked.append(c + " " * max(0, j - i - 2) + (c if j - i >= 2 else ""))
                i = j
            else:
                code.append(c); masked.append(c); i += 1
        self.code = "".join(code)
        self.masked = "".join(masked)
        self.newlines = [k for k, ch in enumerate(text) if ch == "\n"]

    def line(self, offset):
        return bisect.bisect_left(self.newlines, offset) + 1


def match_bracket(s, i):
    """s[i] is an opening bracket; the offset just past its partner, or -1."""
    pairs = {"(": ")", "{": "}", "[": "]", "<": ">"}
    opening = s[i]
    closing = pairs[opening]
    depth = 0
    for k in range(i, len(s)):
        if s[k] == opening:
            depth += 1
        elif s[k] == closing:
            depth -= 1
            if depth == 0:
                return k + 1
        elif opening == "<" and s[k] in ";{}":
            return -1  # not a template argument list after all
    return -1


def skip_space(s, i):
    while i < len(s) and s[i].isspace():
        i += 1
    return i


def first_argument(src, open_paren):
    """(start, end) of the first argument of the call whose '(' is at open_paren, in src.code."""
    s = src.masked
    depth, k = 0, open_paren + 1
    while k < len(s):
        ch = s[k]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif ch == "," and depth == 0:
            break
        k += 1
    return skip_space(s, open_paren + 1), k


def leading_literal(text):
    """The contents of the string literal an expression starts with (also inside std::string(
    or Kokkos::view_alloc( / ViewAllocateWithoutInitializing(), else None."""
    t = text.strip()
    for wrapper in ("std::string(", "Kokkos::ViewAllocateWithoutInitializing(", "ViewAllocateWithoutInitializing("):
        if t.startswith(wrapper):
            t = t[len(wrapper):].strip()
    if t.startswith("Kokkos::view_alloc(") or t.startswith("view_alloc("):
        m = re.search(r'"((?:[^"\\]|\\.)*)"', t)
        return m.group(1) if m else ""
    m = re.match(r'"((?:[^"\\]|\\.)*)"', t)
    return m.group(1) if m else None


class Checker:
    def __init__(self):
        self.findings = []  # (path, line, rule, message)
        # What was looked at, printed so that a scanner that silently matches nothing shows.
        self.counts = {"device bodies": 0, "launches": 0, "labelled Views": 0}

    def add(self, src, offset, rule, message):
        self.findings.append((str(src.path), src.line(offset), rule, message))

    # -- bodies of device code ------------------------------------------------------------------
    def device_bodies(self, src):
        """(kind, start, end) of every KOKKOS_LAMBDA and KOKKOS_*FUNCTION body."""
        s = src.masked
        for m in re.finditer(r"\bKOKKOS_LAMBDA\b", s):
            i = skip_space(s, m.end())
            if i < len(s) and s[i] == "(":
                i = skip_space(s, match_bracket(s, i))
            while True:  # mutable, noexcept, -> return type
                w = re.match(r"(mutable|noexcept|->\s*[\w:<>,\s*&]+?(?=\{))\s*", s[i:])
                if not w:
                    break
                i += w.end()
            if i < len(s) and s[i] == "{":
                yield "KOKKOS_LAMBDA", i, match_bracket(s, i)
            else:
                self.add(src, m.start(), "host-call", "cannot find the body of this KOKKOS_LAMBDA to check it")
        for m in DEVICE_FUNCTION.finditer(s):
            if s[max(0, m.start() - 8):m.start()].strip().endswith("define"):
                continue
            p = s.find("(", m.end())
            if p < 0:
                continue
            close = match_bracket(s, p)
            if close < 0:
                continue
            k = close
            while k < len(s) and s[k] not in "{;=":
                k += 1
            if k < len(s) and s[k] == "{":
                yield m.group(0), k, match_bracket(s, k)

    def check_body(self, src, kind, start, end):
        body = src.masked[start:end]
        self.counts["device bodies"] += 1

        def report(m, rule, what):
            self.add(src, start + m.start(), rule, f"{what} inside a {kind} body")

        if kind == "KOKKOS_LAMBDA":
            for m in re.finditer(r"\bthis\b", body):
                report(m, "this-in-kernel", "`this`")
        for m in re.finditer(r"\bstd\s*::\s*(\w+)", body):
            if m.group(1) not in DEVICE_STD_TYPES:
                report(m, "host-call", f"std::{m.group(1)} (host-only; use Kokkos:: or hnet::compat::)")
        for m in re.finditer(rf"\b({CMATH}|{PRINT}|{ALLOC})\s*\(", body):
            before = body[:m.start()].rstrip()
            if before.endswith(".") or before.endswith("->"):
                continue  # a member function of the same name
            if before.endswith("::"):
                qualifier = re.search(r"(\w*)\s*::$", before).group(1)
                if qualifier == "std":
                    continue  # reported as std:: above
                if qualifier and m.group(1) not in ALLOC.split("|"):
                    continue  # compat::exp, Kokkos::exp, Kokkos::printf, ...
            report(m, "host-call", f"{m.group(1)}() (host-only here; use hnet::compat:: or Kokkos::)")
        for m in re.finditer(r"\b(new|delete|throw|try|catch|typeid|dynamic_cast|cout|cerr|clog)\b", body):
            report(m, "host-call", f"`{m.group(1)}`")

    # -- labels -------------------------------------------------------------------------------
    def check_kernel_labels(self, src):
        s = src.masked
        for m in re.finditer(r"\bparallel_(for|reduce|scan)\s*(<[^;{}()]*>)?\s*\(", s):
            open_paren = m.end() - 1
            self.counts["launches"] += 1
            a, b = first_argument(src, open_paren)
            arg = src.code[a:b]
            if NESTED_POLICIES.match(arg.strip()):
                continue
            literal = leading_literal(arg)
            if literal is None:
                self.add(src, m.start(), "kernel-label",
                         f"parallel_{m.group(1)} without a string-literal label (first argument: "
                         f"`{' '.join(arg.split())[:60]}`); give it \"hnet::<op>...\"")
            elif not literal.startswith("hnet::") or literal == "hnet::":
                self.add(src, m.start(), "kernel-label",
                         f"parallel_{m.group(1)} label \"{literal}\" does not start with \"hnet::\"")

    def view_type_names(self, src, inherited):
        names = set(inherited)
        pattern = re.compile(r"\busing\s+(\w+)\s*=\s*(?:typename\s+)?((?:\w+::)*)(\w+)\s*<")
        changed = True
        while changed:  # aliases of aliases
            changed = False
            for m in pattern.finditer(src.masked):
                if m.group(3) in names and m.group(1) not in names:
                    names.add(m.group(1))
                    changed = True
        return names

    def check_view_labels(self, src, type_names):
        s = src.masked
        alternatives = "|".join(sorted(map(re.escape, type_names), key=len, reverse=True))
        for m in re.finditer(rf"(?<![\w.])((?:\w+::)*)({alternatives})\b", s):
            if re.search(r"\busing\s+\w+\s*=\s*(typename\s+)?$", s[max(0, m.start() - 80):m.start()]):
                continue  # an alias definition
            i = m.end()
            if i < len(s) and s[i] == "<":
                i = match_bracket(s, i)
                if i < 0:
                    continue
            i = skip_space(s, i)
            if s.startswith("::", i):
                continue  # View<...>::HostMirror and the like
            declared = re.match(r"[A-Za-z_]\w*\s*(?=[({])", s[i:])
            if declared:
                if declared.group(0).strip() in ("operator", "return"):
                    continue
                i += declared.end()
            # One declaration may construct several: View1<float> a("hnet::a", n), b("hnet::b", n);
            while i < len(s) and s[i] in "({":
                close = match_bracket(s, i)
                if close < 0:
                    break
                if s[i] == "{":
                    arg = src.code[skip_space(s, i + 1):close - 1].split(",")[0]
                else:
                    a, b = first_argument(src, i)
                    arg = src.code[a:b]
                self.check_view_label(src, i, arg)
                if not declared:
                    break
                following = re.match(r"\s*,\s*[A-Za-z_]\w*\s*(?=[({])", s[close:])
                if not following:
                    break
                i = close + following.end()

    def check_view_label(self, src, offset, arg):
        literal = leading_literal(arg)
        if literal is None:
            return  # no label: unmanaged, scratch, copy or default construction
        self.counts["labelled Views"] += 1
        if not literal.startswith("hnet::") or literal == "hnet::":
            self.add(src, offset, "view-label",
                     f"View constructed with label \"{literal}\", which does not start with \"hnet::\"")

    # -- files --------------------------------------------------------------------------------
    def check(self, path, in_kernels, view_types):
        src = Source(path, pathlib.Path(path).read_text(encoding="utf-8"))
        for m in re.finditer(r"\bKOKKOS_CLASS_LAMBDA\b", src.masked):
            self.add(src, m.start(), "class-lambda", "KOKKOS_CLASS_LAMBDA copies *this to the device; pass Views")
        if in_kernels:
            for m in re.finditer(r"\[\s*[=&]\s*[],]", src.masked):
                self.add(src, m.start(), "default-capture",
                         f"hand-written default capture `{src.masked[m.start():m.end()]}`; use KOKKOS_LAMBDA")
        for kind, start, end in self.device_bodies(src):
            self.check_body(src, kind, start, end)
        self.check_kernel_labels(src)
        self.check_view_labels(src, self.view_type_names(src, view_types))
        return src


def main(argv):
    if len(argv) >= 2 and argv[0] == "--self-test":
        return self_test(argv[1])
    checker = Checker()
    if len(argv) >= 2 and argv[0] == "--kernels":
        for f in argv[1:]:
            checker.check(f, True, set(VIEW_TYPE_ROOTS))
    elif len(argv) == 1:
        root = pathlib.Path(argv[0])
        kernels = sorted((root / "kernels").glob("*.hpp"))
        # drivers/ too: the rules hold wherever hnet launches or allocates.
        library = sorted(p for d in ("src", "drivers") for p in (root / d).rglob("*") if p.suffix in (".hpp", ".cpp"))
        if not kernels:
            print(f"kernel_rules: no kernels/*.hpp under {root}", file=sys.stderr)
            return 2
        # Aliases of View declared in kernels/ headers (views.hpp) hold everywhere.
        shared = set(VIEW_TYPE_ROOTS)
        for p in kernels:
            shared = Checker().view_type_names(Source(p, p.read_text(encoding="utf-8")), shared)
        for p in kernels:
            checker.check(p, True, shared)
        for p in library:
            checker.check(p, False, shared)
        print(f"kernel_rules: {len(kernels)} kernel headers, {len(library)} library files; checked "
              + ", ".join(f"{v} {k}" for k, v in checker.counts.items()))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for path, line, rule, message in checker.findings:
        print(f"{path}:{line}: [{rule}] {message}")
    if checker.findings:
        print(f"kernel_rules: {len(checker.findings)} violation(s)", file=sys.stderr)
        return 1
    print("kernel_rules: no violations")
    return 0


def self_test(sample):
    checker = Checker()
    src = checker.check(sample, True, set(VIEW_TYPE_ROOTS))
    expected = set()
    for number, text in enumerate(src.text.splitlines(), start=1):
        m = re.search(r"//\s*lint-expect:\s*([\w\-, ]+)", text)
        if m:
            for rule in m.group(1).replace(",", " ").split():
                expected.add((number, rule))
    found = {(line, rule) for _, line, rule, _ in checker.findings}
    for _, line, rule, message in sorted(checker.findings, key=lambda f: f[1]):
        print(f"{sample}:{line}: [{rule}] {message}")
    ok = True
    for line, rule in sorted(expected - found):
        print(f"self-test: line {line} should be rejected by [{rule}] but was not", file=sys.stderr)
        ok = False
    for line, rule in sorted(found - expected):
        print(f"self-test: line {line} was rejected by [{rule}], which the sample does not expect", file=sys.stderr)
        ok = False
    missing = set(RULES) - {rule for _, rule in expected}
    if missing:
        print(f"self-test: the sample exercises no case of {sorted(missing)}", file=sys.stderr)
        ok = False
    if ok:
        print(f"self-test: all {len(expected)} expected rejections found, every rule fired, nothing else flagged")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
