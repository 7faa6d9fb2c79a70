#!/usr/bin/env python3
"""Checks that the C tree's folders form layers with dependencies pointing down.

The layers, lowest first, are the SR_LAYERS list in the top-level
CMakeLists.txt (read from there, so there is one list). A file may include
headers of its own folder and of folders listed before it; including from a
folder listed after it (a dependency pointing up) fails, and so does a header
that two folders define or that no folder defines. A folder that is not a
layer, or a layer that is missing, fails too, so a new folder must be placed.

Usage: layering_check.py [SOURCE_DIR]   (exit 0 when the tree is layered)
       layering_check.py --self-test SOURCE_DIR
         copies the tree, makes a base header include the top layer, and
         exits 0 only if the check then fails
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layers_from_cmake(root):
    text = open(os.path.join(root, "CMakeLists.txt")).read()
    m = re.search(r"set\(SR_LAYERS([^)]*)\)", text)
    if not m:
        sys.exit("layering: no set(SR_LAYERS ...) in CMakeLists.txt")
    return m.group(1).split()


def self_test(root):
    import shutil
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "tree")
        os.mkdir(copy)
        shutil.copy(os.path.join(root, "CMakeLists.txt"), copy)
        for top in ("runtime", "sinks"):
            shutil.copytree(os.path.join(root, top), os.path.join(copy, top))
        clean = subprocess.run([sys.executable, __file__, copy], capture_output=True, text=True)
        if clean.returncode != 0:
            print(clean.stdout)
            return 1
        layers = layers_from_cmake(copy)
        top_header = next(n for n in sorted(os.listdir(os.path.join(copy, layers[-1])))
                          if n.endswith(".h"))
        with open(os.path.join(copy, layers[0], "buf.h"), "a") as f:
            f.write(f'\n#include "{top_header}"\n')
        broken = subprocess.run([sys.executable, __file__, copy], capture_output=True, text=True)
        print(broken.stdout, end="")
        if broken.returncode == 0 or "a layer above" not in broken.stdout:
            print("layering self-test: an upward include was not caught")
            return 1
        print("layering self-test: an upward include is caught")
        return 0


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--self-test":
        return self_test(sys.argv[2])
    root = sys.argv[1] if len(sys.argv) > 1 else os.getcwd()
    layers = layers_from_cmake(root)
    rank = {layer: i for i, layer in enumerate(layers)}
    problems = []

    # Every folder holding C under runtime/ and sinks/ must be a layer.
    for top in ("runtime", "sinks"):
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            rel = os.path.relpath(dirpath, root)
            if any(n.endswith((".c", ".h")) for n in names) and rel not in rank:
                problems.append(f"{rel}: holds C files but is not in SR_LAYERS")
    for layer in layers:
        if not os.path.isdir(os.path.join(root, layer)):
            problems.append(f"{layer}: listed in SR_LAYERS but missing")

    owner = {}
    for layer in layers:
        d = os.path.join(root, layer)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if name.endswith(".h"):
                if name in owner:
                    problems.append(f"{name}: defined in {owner[name]} and {layer}")
                owner[name] = layer

    edges = set()
    for layer in layers:
        d = os.path.join(root, layer)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(d, name)
            text = open(path, encoding="utf-8", errors="replace").read()
            for inc in INCLUDE.findall(text):
                if inc.endswith(".inc") or "/" in inc and inc.startswith("generated"):
                    continue
                base = os.path.basename(inc)
                dep = owner.get(base)
                if dep is None:
                    # Generated or third-party headers come with <...>; a quoted
                    # include must be one of ours.
                    problems.append(f"{layer}/{name}: includes \"{inc}\", which no layer defines")
                    continue
                if rank[dep] > rank[layer]:
                    problems.append(
                        f"{layer}/{name}: includes {dep}/{base}, a layer above {layer} "
                        f"(order: {' < '.join(layers)})")
                if dep != layer:
                    edges.add((layer, dep))

    for p in problems:
        print("layering:", p)
    print(f"layering: {len(layers)} layers, {len(owner)} headers, "
          f"{len(edges)} folder dependencies, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
