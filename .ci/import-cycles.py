#!/usr/bin/env python3
"""Lists the module cycles in src/: files that import, directly or through others, a file that
imports them back (`use crate::...`, `crate::x::y` paths, `super::` and `self::` paths).

Usage: .ci/import-cycles.py [SRC_DIR] [--under PREFIX] [--strict]
Exit 0 when there is no cycle (under PREFIX, default the whole tree), 1 when there is one.
A module is a file: src/a/b.rs and src/a/b/mod.rs are both `a::b`. An import of `crate::a::b::C`
counts as an edge to the longest module prefix that exists (`a::b`), so `a::b::C` where C is a
type in a/b.rs is an edge to a/b.rs, and `a::C` re-exported by a/mod.rs is an edge to a/mod.rs.
Child modules' own `mod` declarations are not edges; test modules (`tests.rs`, `#[cfg(test)]`
blocks) are left out, since a test importing its parent is no cycle a reader follows.
"""
import os
import re
import sys


def module_files(src):
    mods = {}
    for root, _dirs, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, src)[:-3].split(os.sep)
            if rel[-1] == "mod":
                rel = rel[:-1]
            if rel in (["lib"], ["main"]):
                rel = []
            name = "::".join(rel) if rel else ("lib" if f == "lib.rs" else "main")
            mods[name] = path
    return mods


def strip_tests(text):
    # drop `#[cfg(test)] mod x { ... }` blocks (brace-matched) and comments
    text = re.sub(r"//[^\n]*", "", text)
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def expand_use(body):
    """Expands `a::{b, c::{d, e}}` into ['a::b', 'a::c::d', 'a::c::e']."""
    body = re.sub(r"\s+", "", body)

    def split_top(s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            depth += {"{": 1, "}": -1}.get(ch, 0)
            cur += ch
        if cur:
            parts.append(cur)
        return parts

    i = body.find("{")
    if i < 0:
        return [re.sub(r"as\w+$", "", body)]
    prefix, inner = body[:i], body[i + 1:body.rfind("}")]
    res = []
    for part in split_top(inner):
        res += [prefix + p for p in expand_use(part)]
    return res


def resolve(path, here, mods):
    segs = [s for s in path.split("::") if s]
    base = here.split("::") if here not in ("lib", "main") else []
    if not segs:
        return None
    if segs[0] == "crate":
        segs = segs[1:]
    elif segs[0] in ("super", "self"):
        cur = list(base)
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                cur = cur[:-1]
            segs = segs[1:]
        segs = cur + segs
    elif "::".join(base + segs[:1]) in mods:
        segs = base + segs  # a path through a child module: `use child::X`
    else:
        return None
    for n in range(len(segs), 0, -1):
        cand = "::".join(segs[:n])
        if cand in mods:
            return cand
    return None


STRICT = False


def graph(src):
    mods = module_files(src)
    edges = {}
    for name, path in mods.items():
        if os.path.basename(path) == "tests.rs" or name.endswith("::tests"):
            continue
        text = strip_tests(open(path, encoding="utf-8").read())
        targets = set()
        for m in re.finditer(r"\buse\s+([^;]+);", text):
            for p in expand_use(m.group(1)):
                t = resolve(p, name, mods)
                if t:
                    targets.add(t)
        for m in re.finditer(r"\b((?:crate|super)(?:::\w+)+)", text):
            t = resolve(m.group(1), name, mods)
            if t:
                targets.add(t)
        targets.discard(name)
        # a parent naming its own children (`mod x;`, `pub use x::T`) is structure, not a cycle
        # (Rust's usual shape: a mod.rs re-exports, its children use the parent's types); with
        # --strict those edges count too
        if name in ("lib", "main"):
            targets = set()
        elif not STRICT:
            targets = {t for t in targets if not t.startswith(name + "::")}
        edges[name] = targets
    return mods, edges


def sccs(edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def main():
    global STRICT
    args = sys.argv[1:]
    if "--strict" in args:
        STRICT = True
        args.remove("--strict")
    under = ""
    if "--under" in args:
        i = args.index("--under")
        under = args[i + 1]
        del args[i:i + 2]
    src = args[0] if args else "src"
    mods, edges = graph(src)
    found = 0
    for comp in sccs(edges):
        if under and not any(c == under or c.startswith(under + "::") for c in comp):
            continue
        found += 1
        print("cycle: " + " <-> ".join(comp))
        for a in comp:
            for b in sorted(edges[a] & set(comp)):
                print(f"  {mods[a]} -> {mods[b]}")
    if not found:
        print("no import cycles" + (f" under {under}" if under else ""))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
