#!/usr/bin/env python3
"""Holds the source tree to the layering and the source map that README.md states.

README.md's "Layering" line names every folder of src/ from the top layer down, groups of
one layer separated by "->":  `cli` -> `study` -> ... -> `util`.  A file may include its own
folder's headers and those of the layers below its own, never one above or beside it.
Outside src/kernels, only the kernels' operation entry points (kernels/*.h) and their
device-neutral references (kernels/reference/) are included: the CPU and CUDA kernels are
reached through the entry points. Every folder has a row `src/NAME` in the source map
table, and every file that table names exists.

Usage: check-layering.py [REPOSITORY]   (exit status 1 and one line per problem)
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
readme = (root / "README.md").read_text()
problems = []

line = next((l for l in readme.splitlines() if l.startswith("Layering")), None)
if line is None:
    sys.exit("README.md: no line starting with 'Layering'")
# The line may wrap: take the paragraph it starts.
paragraph = readme[readme.index(line):].split("\n\n")[0]
groups = [re.findall(r"`([a-z_]+)`", part) for part in paragraph.split("->")]
rank = {name: len(groups) - i for i, group in enumerate(groups) for name in group}

folders = sorted(p.name for p in (root / "src").iterdir() if p.is_dir())
for name in folders:
    if name not in rank:
        problems.append(f"README.md: src/{name} is not in the Layering line")
    if f"`src/{name}`" not in readme:
        problems.append(f"README.md: src/{name} has no row in the source map")
for name in rank:
    if name not in folders:
        problems.append(f"README.md: the Layering line names `{name}`, which is not a folder of src/")

include = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/([^"]+)"')
for path in sorted((root / "src").rglob("*")):
    if path.suffix not in (".h", ".cpp"):
        continue
    own = path.relative_to(root / "src").parts[0]
    for number, text in enumerate(path.read_text().splitlines(), 1):
        m = include.match(text)
        if not m or m.group(1) not in rank:
            continue
        target, rest = m.group(1), m.group(2)
        where = f"{path.relative_to(root)}:{number}"
        if target != own and rank[target] >= rank.get(own, 0):
            problems.append(f"{where}: includes {target}/{rest}, a layer not below {own}")
        if target == "kernels" and own != "kernels" and "/" in rest and not rest.startswith("reference/"):
            problems.append(f"{where}: includes kernels/{rest}; outside src/kernels use the entry points (kernels/*.h)")

# Files the source map names: `name.h` or `name.cpp` in a row of folder src/X.
for row in re.findall(r"^\| `src/([a-z_/]+)` \|(.*)$", readme, re.M):
    folder, text = row
    for name in re.findall(r"`([a-z_/]+\.(?:h|cpp))`", text):
        if not (root / "src" / folder / name).exists():
            problems.append(f"README.md: the source map names src/{folder}/{name}, which does not exist")

for p in problems:
    print(p)
if problems:
    sys.exit(1)
print(f"layering: {len(folders)} folders, every include points down")
