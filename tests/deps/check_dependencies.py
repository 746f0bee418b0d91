#!/usr/bin/env python3
"""The one-way dependency rules of lbd's folder tree, checked on #include lines.

    core/   knows no tier, no HA code, no command-line program; inside it each
            folder uses only the folders below it (LAYERS, the order of
            core/CMakeLists.txt)
    l4/ l7/ ha/   use core, never each other
    */config/ and l7/tls/   (config checks linked into lbctl) use core and
            their own config or TLS code only, nothing of the running tier
    cli/lbctl*   speaks the admin schema: core only, no tier

Usage: check_dependencies.py [ROOT]   exits 1 listing every include against the rules.
       check_dependencies.py --self-test   checks that a planted violation is caught.
"""
import os
import re
import sys
import tempfile

# core/ folders, each allowed to include the ones listed (and itself).
CORE_LAYERS = {
    "base": [],
    "http1": ["base"],
    "loop": ["base"],
    "net": ["base"],
    "config": ["base", "net", "http1"],
    "state": ["base", "net", "config"],
    "balance": ["base", "loop", "net", "config", "state"],
    "health": ["base", "loop", "net", "config", "state", "balance", "http1"],
    "admin": ["base", "loop", "net", "config", "state", "balance"],
    "process": ["base", "loop", "net", "config"],
    "tier": ["base", "loop", "net", "config", "state", "balance", "health", "admin"],
    "daemon": ["base", "loop", "net", "config", "state", "balance", "health", "admin", "process", "tier"],
}
# Sub-folders that are libraries of their own, with what they may include beyond core's lower layers.
SUBLIBS = {
    "core/balance/config": ["core/balance", "core/config"],
    "l7/tls": [],
    "l7/config": ["l7/tls"],
    "ha/config": [],
    # compression's encoders and negotiation: core only, driven by l7's filter
    "l7/compression": [],
}
TIERS = ["l4", "l7", "ha"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def folder_of(path):
    """'core/balance/config/x.cc' -> 'core/balance/config'."""
    return os.path.dirname(path)


def core_layer(path):
    parts = path.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "core" else None


def allowed(src, inc):
    """None if src may include inc, else the rule it breaks."""
    top = src.split("/")[0]
    inc_top = inc.split("/")[0]
    if inc_top not in ("core", "l4", "l7", "ha", "cli"):
        return None  # system, generated (lbd/v1/...), tests' own headers
    src_dir = folder_of(src)
    for sub, extra in SUBLIBS.items():
        if src_dir == sub or src_dir.startswith(sub + "/"):
            if folder_of(inc).startswith(sub) or any(folder_of(inc).startswith(e) for e in extra):
                return None
            if inc_top == "core" and sub.startswith(("l7/", "ha/")):
                return None
            if inc_top == "core" and sub.startswith("core/"):
                return allowed_in_core(sub.split("/")[1], inc)
            if sub == "l7/compression":
                return f"{sub} is pure (encoders, negotiation): it may not use {folder_of(inc)}"
            return f"{sub} is linked into lbctl and checks config only: it may not use {folder_of(inc)}"
    if top == "core":
        if inc_top != "core":
            return "core knows no tier, HA code or program"
        return allowed_in_core(core_layer(src), inc)
    if top in TIERS:
        if inc_top in TIERS and inc_top != top:
            return f"{top} may not include another tier or ha ({inc_top})"
        if inc_top == "cli":
            return f"{top} may not include cli"
        return None
    if top == "cli" and os.path.basename(src).startswith("lbctl"):
        if inc_top in TIERS:
            return "lbctl speaks the admin schema and includes no tier"
    return None


def allowed_in_core(layer, inc):
    inc_layer = core_layer(inc)
    if layer is None or inc_layer is None or inc_layer == layer:
        return None
    if layer not in CORE_LAYERS:
        return f"core/{layer} is not in the layer list of tests/deps/check_dependencies.py"
    if inc_layer not in CORE_LAYERS[layer]:
        return f"core/{layer} may not use core/{inc_layer} (allowed: {', '.join(CORE_LAYERS[layer]) or 'none'})"
    return None


def violations(root):
    found = []
    for top in ("core", "l4", "l7", "ha", "cli"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in files:
                if not name.endswith((".h", ".cc")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                for match in INCLUDE.finditer(text):
                    why = allowed(rel, match.group(1))
                    if why:
                        line = text.count("\n", 0, match.start()) + 1
                        found.append(f"{rel}:{line}: includes {match.group(1)}: {why}")
    return found


def self_test():
    planted = [
        ("core/config/x.h", '#include "core/loop/event.h"\n'),
        ("core/base/y.h", '#include "l7/router.h"\n'),
        ("l4/z.cc", '#include "l7/http_session.h"\n'),
        ("cli/lbctl_w.cc", '#include "ha/ha_node.h"\n'),
        ("l7/config/v.cc", '#include "l7/http_session.h"\n'),
    ]
    with tempfile.TemporaryDirectory() as root:
        for rel, text in planted:
            os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)
        found = violations(root)
    if len(found) != len(planted):
        print("self-test: expected every planted violation to be caught, got:", *found, sep="\n  ")
        return 1
    print(f"self-test: {len(found)} planted violations caught")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    found = violations(root)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} include(s) against the dependency rules (see tests/deps/check_dependencies.py)")
        return 1
    print("dependency rules hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
