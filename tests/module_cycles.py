#!/usr/bin/env python3
"""Fails (exit 1) when modules of a Rust source tree import each other in a circle; run by `make lint`.

Usage: tests/module_cycles.py [SRC_DIR]   (default: src/ next to this folder)

A module is a file: `src/a/b.rs` is `a::b`, `src/a/mod.rs` is `a`. An import is any path a file names
through `crate::`, `super::` or `self::` (in `use` lines and in code), resolved to the longest module it
reaches, so `crate::track::live::Tracking` is an import of `track::live`. Declaring a child (`pub mod x;`)
is not an import, nor is a file using its own folder's `mod.rs` (`super::`), and unit tests (from the first `#[cfg(test)]` on) are left out: tests may reach anywhere.
Every strongly connected group of modules is printed with one of its circles.
"""

import re
import sys
from pathlib import Path

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
# A `use` with a group: `use crate::a::{b, c::D}` names crate::a::b and crate::a::c.
GROUP = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^{}]*)\}")


def module_of(src, path):
    rel = path.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "mod":
        parts.pop()
    if parts in (["lib"], ["main"]):
        return ()
    return tuple(parts)


def strip(text):
    """The code before the unit tests, without comments and string literals."""
    cut = text.find("#[cfg(test)]")
    if cut >= 0:
        text = text[:cut]
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def imports(module, is_mod_file, text, modules):
    """Modules named by the paths in `text`, resolved from `module`."""
    # `super` of a `mod.rs` file is its parent's parent, as for any module.
    here = list(module)
    found = set()

    def resolve(root, rest):
        if root == "crate":
            base = []
        elif root == "self":
            base = list(here)
        else:
            base = here[:-1]
        names = [n for n in rest.split("::") if n]
        while names and names[0] == "super":
            base = base[:-1]
            names.pop(0)
        full = base + names
        for k in range(len(full), -1, -1):
            if tuple(full[:k]) in modules:
                return tuple(full[:k])
        return None

    for m in GROUP.finditer(text):
        for item in m[3].split(","):
            item = item.strip().split(" as ")[0]
            if item and item != "self":
                target = resolve(m[1], m[2] + "::" + item)
                if target is not None:
                    found.add(target)
        target = resolve(m[1], m[2])
        if target is not None:
            found.add(target)
    for m in PATH.finditer(text):
        target = resolve(m[1], m[2])
        if target is not None:
            found.add(target)
    found.discard(module)
    # A module using its own ancestors' items (`super::Detection` in a folder's file) is how a Rust folder is
    # built: the folder is one layer, its `mod.rs` the face it shows. Only imports across folders count.
    return {t for t in found if t and t != module[: len(t)]}


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def circle(graph, group):
    """One circle through the group's first module (breadth-first back to it)."""
    start, members = group[0], set(group)
    prev, queue = {start: None}, [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v]):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w in members and w not in prev:
                prev[w] = v
                queue.append(w)
    return group


def main():
    src = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "src")
    files = sorted(src.rglob("*.rs"))
    if not files:
        print(f"module_cycles: no .rs files under {src}", file=sys.stderr)
        return 2
    modules = {module_of(src, f): f for f in files}
    graph = {
        m: imports(m, f.name == "mod.rs", strip(f.read_text(errors="replace")), modules) for m, f in modules.items()
    }
    graph.pop((), None)
    for m in graph:
        graph[m].discard(())
    groups = cycles(graph)
    name = lambda m: "::".join(m)
    for g in groups:
        print(
            f"import cycle among {len(g)} modules: {' -> '.join(name(m) for m in circle(graph, g))}"
            f" (all: {', '.join(name(m) for m in g)})"
        )
    edges = sum(len(v) for v in graph.values())
    if groups:
        print("move what both sides need into a module below them (STYLE.md section 9)", file=sys.stderr)
        return 1
    print(f"module_cycles: {len(graph)} modules, {edges} imports, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
