"""Checks that the code keeps the layering src/ARCHITECTURE.md draws.

The table under "## Folders and files, top to bottom" lists the places (a file, a folder, or a
folder's own mod.rs) in order. A place may import what a later row lists, and, within one row,
what that row names after it; `gha.rs` may be used by everyone. Inside a folder its files may
import each other, but never in a loop. The check reads every `crate::`, `super::` and
`ecs_loadtest::` path under src/ (`use` trees included; unit tests left out, as they may reach
anything) and prints each import that runs the wrong way, each loop of files, and each place the
map does not list.

Usage: python3 scripts/check_layers.py (from anywhere). Exits 1 naming every problem.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
EVERYONE_MAY_USE = {"gha"}


def module_path(file):
    """src/backend/local/mod.rs -> ["backend", "local"]; src/lib.rs -> []."""
    parts = list(file.relative_to(SRC).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def strip_comments_and_strings(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'r#*"(?:.|\n)*?"#*', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return re.sub(r"'(?:\\.|[^'\\])'", "''", text)


def expand_use(tree):
    """`crate::{a, b::{c, d}}` -> ["crate::a", "crate::b::c", "crate::b::d"]."""
    tree = re.sub(r"\s+as\s+\w+", "", tree)
    tree = re.sub(r"\s+", "", tree)
    brace = tree.find("{")
    if brace < 0:
        return [tree]
    prefix, inner = tree[:brace], tree[brace + 1 : tree.rindex("}")]
    parts, depth, start = [], 0, 0
    for i, char in enumerate(inner):
        depth += char == "{"
        depth -= char == "}"
        if char == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    expanded = [path for part in parts if part for path in expand_use(prefix + part)]
    return [path.removesuffix("::self") for path in expanded]


def references(file):
    """(line, absolute module path) for every path that leaves the file's own module."""
    text = strip_comments_and_strings(file.read_text())
    # Unit tests may reach anything: the rule is the product's. They sit at a file's end.
    test_module = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)
    if test_module:
        text = text[: test_module.start()]
    here = module_path(file)
    found = []
    paths = []
    for match in re.finditer(r"\buse\s+([^;]+);", text):
        line = text.count("\n", 0, match.start()) + 1
        paths += [(line, p) for p in expand_use(match.group(1))]
    for match in re.finditer(r"\b(?:crate|super|ecs_loadtest)(?:::\w+)+", text):
        line = text.count("\n", 0, match.start()) + 1
        paths.append((line, match.group(0)))
    for line, path in paths:
        words = path.split("::")
        if words[0] in ("crate", "ecs_loadtest"):
            target = words[1:]
        elif words[0] == "super":
            # `super` of a::b::c (a/b/c.rs) and of a::b (a/b/mod.rs) is one module up.
            base = here[:-1]
            words = words[1:]
            while words and words[0] == "super":
                words = words[1:]
                base = base[:-1]
            target = base + words
        else:
            continue
        found.append((line, target))
    return found


def map_rows():
    text = (SRC / "ARCHITECTURE.md").read_text()
    section = re.search(r"^## Folders and files, top to bottom\n(.*?)(?=^## )", text, re.S | re.M)
    rows = []
    for row in re.findall(r"^\| ([^|]+) \|", section.group(1), re.M):
        names = re.findall(r"`([^`]+)`", row)
        if names:
            rows.append([re.sub(r"/mod$", "", name.rstrip("/").removesuffix(".rs")) for name in names])
    return rows


def place_of(module, places):
    """The longest listed place that holds the module path."""
    for size in range(len(module), 0, -1):
        name = "/".join(module[:size])
        if name in places:
            return name
    return None


def main():
    rows = map_rows()
    rank = {}
    for r, row in enumerate(rows):
        for c, name in enumerate(row):
            rank[name] = (r, c)
    problems = []
    files = sorted(f for f in SRC.rglob("*.rs") if f.name != "tests.rs")
    edges = {}
    for file in files:
        here_module = module_path(file)
        here = place_of(here_module, rank) or ("lib" if not here_module else None)
        if file.name == "main.rs":
            here = "main"
        shown = file.relative_to(ROOT)
        if here is None:
            problems.append(f"{shown}: the map lists no place that holds it")
            continue
        for line, target in references(file):
            if not target:
                continue
            there = place_of(target, rank)
            if there is None or there == here:
                if there == here and len(target) > len(here.split("/")):
                    target_file = target_file_of(target)
                    if target_file and target_file != file:
                        edges.setdefault(file, {}).setdefault(target_file, line)
                continue
            if there in EVERYONE_MAY_USE:
                continue
            (hr, hc), (tr, tc) = rank[here], rank[there]
            if tr > hr or (tr == hr and tc > hc):
                continue
            problems.append(
                f"{shown}:{line}: `{here}` imports from `{there}`, which the map puts "
                f"{'above it' if tr < hr else 'beside it, before it'}"
            )
    problems += [f"a loop of files: {loop}" for loop in loops(edges)]
    for problem in sorted(set(problems)):
        print(problem)
    print(f"layers: {len(files)} files in {len(rank)} places of the map, {len(set(problems))} problem(s)")
    return 1 if problems else 0


def target_file_of(target):
    """The source file that defines the module path, or its nearest enclosing module's."""
    for size in range(len(target), 0, -1):
        base = SRC.joinpath(*target[:size])
        for candidate in (base.with_suffix(".rs"), base / "mod.rs"):
            if candidate.exists():
                return candidate
    return None


def loops(edges):
    """Strongly connected groups of more than one file (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(" <-> ".join(str(g.relative_to(ROOT)) for g in sorted(group)))

    for node in list(edges):
        if node not in index:
            visit(node)
    return found


if __name__ == "__main__":
    sys.exit(main())
