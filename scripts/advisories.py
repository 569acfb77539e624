#!/usr/bin/env python3
"""Checks Cargo.lock against a RustSec advisory database snapshot, offline.

Usage: advisories.py [--db DIR] [--lock FILE] [--ignore FILE]

Fails (exit 1) on any vulnerability advisory that matches a locked package and is not
listed, with a reason, in the ignore file. Informational advisories (unmaintained,
unsound, notice) are printed; they fail only when not listed either, so each is a
reviewed decision. The ignore file is TOML: `[[ignore]] id = "RUSTSEC-…" reason = "…"`.
"""
import argparse
import pathlib
import re
import sys
import tomllib


def version_key(v):
    """Semver as a sortable tuple: pre-releases sort before their release."""
    v = v.strip().split("+")[0]
    core, _, pre = v.partition("-")
    nums = [int(x) for x in core.split(".")]
    while len(nums) < 3:
        nums.append(0)
    pre_key = (1,) if not pre else (0, tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")))
    return (tuple(nums[:3]), pre_key)


def comparator_matches(version, comp):
    comp = comp.strip()
    m = re.fullmatch(r"(>=|<=|>|<|=|\^|~)?\s*([0-9][0-9A-Za-z.\-+]*)", comp)
    if not m:
        raise ValueError(f"unknown version requirement `{comp}`")
    op, bound = m.group(1) or "^", m.group(2)
    v, b = version_key(version), version_key(bound)
    if op == ">=":
        return v >= b
    if op == "<=":
        return v <= b
    if op == ">":
        return v > b
    if op == "<":
        return v < b
    if op == "=":
        return v == b
    parts = [int(x) for x in bound.split("-")[0].split(".")]
    if op == "~":
        upper = (parts[0], parts[1] + 1, 0) if len(parts) > 1 else (parts[0] + 1, 0, 0)
    else:  # caret: the left-most non-zero part may not change
        if parts[0] > 0 or len(parts) == 1:
            upper = (parts[0] + 1, 0, 0)
        elif len(parts) == 2 or parts[1] > 0:
            upper = (0, parts[1] + 1, 0)
        else:
            upper = (0, 0, parts[2] + 1)
    return b <= v < (upper, (0, ()))


def requirement_matches(version, req):
    return all(comparator_matches(version, c) for c in req.split(",") if c.strip())


def front_matter(text):
    m = re.search(r"```toml\n(.*?)\n```", text, re.S)
    return tomllib.loads(m.group(1)) if m else None


def main():
    here = pathlib.Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=str(here.parent / "shared" / "advisory-db"))
    ap.add_argument("--lock", default=str(here / "Cargo.lock"))
    ap.add_argument("--ignore", default=str(here / "advisories-ignore.toml"))
    args = ap.parse_args()

    lock = tomllib.loads(pathlib.Path(args.lock).read_text())
    locked = {}
    for p in lock.get("package", []):
        if p.get("source", "").startswith("registry+"):
            locked.setdefault(p["name"], set()).add(p["version"])
    ignore_path = pathlib.Path(args.ignore)
    ignored = {}
    if ignore_path.exists():
        for entry in tomllib.loads(ignore_path.read_text()).get("ignore", []):
            if not entry.get("reason", "").strip():
                sys.exit(f"{ignore_path}: {entry.get('id')} is listed without a reason")
            ignored[entry["id"]] = entry["reason"]

    crates = pathlib.Path(args.db) / "crates"
    if not crates.is_dir():
        sys.exit(f"no advisory database at {args.db}")
    failures, notes, checked = [], [], 0
    for name, versions in sorted(locked.items()):
        folder = crates / name
        if not folder.is_dir():
            continue
        for md in sorted(folder.glob("*.md")):
            fm = front_matter(md.read_text())
            if not fm:
                continue
            adv, ver = fm.get("advisory", {}), fm.get("versions", {})
            if adv.get("withdrawn"):
                continue
            checked += 1
            safe = ver.get("patched", []) + ver.get("unaffected", [])
            for v in sorted(versions, key=version_key):
                if any(requirement_matches(v, r) for r in safe):
                    continue
                kind = adv.get("informational")
                line = f"{adv['id']} {name} {v}: {adv.get('title', md.stem) if 'title' in adv else first_heading(md)}"
                if adv["id"] in ignored:
                    notes.append(f"accepted {line} — {ignored[adv['id']]}")
                elif kind:
                    failures.append(f"{kind} (not reviewed) {line}")
                else:
                    failures.append(f"vulnerability {line}")
    for n in notes:
        print(n)
    for f in failures:
        print(f)
    print(
        f"{sum(len(v) for v in locked.values())} locked packages, {checked} advisories "
        f"of theirs read, {len(failures)} not accepted"
    )
    return 1 if failures else 0


def first_heading(md):
    for line in md.read_text().splitlines():
        if line.startswith("# "):
            return line[2:]
    return ""


if __name__ == "__main__":
    sys.exit(main())
