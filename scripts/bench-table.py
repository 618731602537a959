#!/usr/bin/env python3
"""Turn the `emrebuild bench --json` lines scripts/bench-table.sh collected into the README's
Markdown table, with the machine. Usage: bench-table.py results.jsonl"""
import json
import os
import subprocess
import sys

lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
runs = [r for r in lines if "failed" not in r]
failed = [r for r in lines if "failed" in r]


def find(label, size, threads, access):
    for r in runs:
        if (r["label"], r["size"], r["threads"], r["access"]) == (label, size, threads, access):
            return r
    return None


def mib(b):
    return f"{b / 2**20:.0f} MiB"


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


m = runs[0]["machine"] if runs else {"cpu": "?", "cores": 0, "memory_bytes": 0}
work = os.path.dirname(os.path.abspath(sys.argv[1]))
disk = sh(f"df -h --output=source,fstype,size {work} | tail -1")
dev = sh(f"lsblk -no NAME,ROTA,MODEL $(df --output=source {work} | tail -1) 2>/dev/null")
caches = sh("lscpu | grep -E '^L[23] cache' | tr -s ' ' | paste -sd ';'")
kernel = sh("uname -r")
print(f"Machine: {m['cpu']}, {m['cores']} cores ({caches}), "
      f"{m['memory_bytes'] / 2**30:.0f} GiB memory; disk {disk} {dev}; kernel {kernel}; "
      f"best of {runs[0]['runs'] if runs else '?'} runs per pass, release build.\n")
loads = [r["machine"].get("load_average") for r in runs if r["machine"].get("load_average") is not None]
if loads:
    print(f"Load average of the machine when each run started (other work on it): "
          f"{min(loads):.1f} to {max(loads):.1f} on {m['cores']} cores"
          + (" — the machine was busy: every figure below is noisy; run the script on an idle machine "
             "for figures to rely on." if max(loads) > 0.5 * m["cores"] else ".") + "\n")

sizes = []
for r in runs:
    if r["label"] == "mixed" and r["size"] not in sizes:
        sizes.append(r["size"])
if sizes:
    print("| what (mixed tree, compressed) | " + " | ".join(f"{s} tree" for s in sizes) + " |")
    print("|---|" + "---|" * len(sizes))

    def row(what, cell):
        cells = []
        for s in sizes:
            try:
                cells.append(cell(s))
            except (TypeError, KeyError, ZeroDivisionError):
                cells.append("—")
        print(f"| {what} | " + " | ".join(cells) + " |")

    def data(s):
        d = find("mixed", s, 2, "mmap")["data"]
        return (f"{d['files']} files, {d['extents']} extents, {d['stored_bytes'] / 1e9:.2f} GB on disk, "
                f"{d['uncompressed_bytes'] / 1e9:.2f} GB uncompressed")

    row("data", data)
    row("peak RssAnon / RssFile, `--no-mmap`, 2 threads",
        lambda s: "{} / {}".format(*(mib(find("mixed", s, 2, "read")["passes"]["rebuild"]["peak"][k]) for k in ("anon", "file"))))
    row("peak RssAnon / RssFile, mmap, 2 threads",
        lambda s: "{} / {}".format(*(mib(find("mixed", s, 2, "mmap")["passes"]["rebuild"]["peak"][k]) for k in ("anon", "file"))))
    row("`--no-mmap` vs mmap wall time (warm, 2 threads)",
        lambda s: f"{find('mixed', s, 2, 'read')['warm']['rebuild_seconds']:.2f} s vs {find('mixed', s, 2, 'mmap')['warm']['rebuild_seconds']:.2f} s")

    def cold(s, access):
        r = find("mixed", s, 2, access)
        c = r["cold"]
        ok = {True: "", False: " (eviction did NOT work)", None: " (eviction not checked)"}[c["eviction_worked"]]
        bound = f"; CPU bound ≥ {c['cpu_bound_ratio']:.2f}" if "cpu_bound_ratio" in c else ""
        return (f"{c['rebuild']['seconds']:.2f} s vs {c['read_floor']['seconds']:.2f} s "
                f"(warm {r['warm']['rebuild_seconds']:.2f} s) → {c['ratio']:.2f}{bound}{ok}")

    # The CPU bound: the cold rebuild's CPU time over the machine's cores ÷ the same max (no
    # overlap of reads with the scan goes below it).
    row("cold, mmap: rebuild vs read of the same files, 2 threads → rebuild ÷ max(read, warm rebuild); CPU bound", lambda s: cold(s, "mmap"))
    row("cold, `--no-mmap`: the same", lambda s: cold(s, "read"))
    row("warm: rebuild ÷ (read + checksum + decompress floor), 1 / 2 threads",
        lambda s: " / ".join(f"{find('mixed', s, t, 'mmap')['warm']['ratio_to_decompress_floor']:.2f}" for t in (1, 2)))
    row("warm: rebuild ÷ read floor, 1 / 2 threads",
        lambda s: " / ".join(f"{find('mixed', s, t, 'mmap')['warm']['ratio_to_read_floor']:.2f}" for t in (1, 2)))
    # By CPU time (user + system of all threads): what the code costs, whatever else runs.
    row("warm, by CPU time: rebuild ÷ (read + checksum + decompress floor), 1 / 2 threads, mmap / `--no-mmap`",
        lambda s: " / ".join(f"{find('mixed', s, t, a)['warm'].get('cpu_ratio_to_decompress_floor', float('nan')):.2f}"
                             for a in ("mmap", "read") for t in (1, 2)))
    row("2 threads vs 1 (warm rebuild, mmap / `--no-mmap`)",
        lambda s: " / ".join(f"{find('mixed', s, 1, a)['warm']['rebuild_seconds'] / find('mixed', s, 2, a)['warm']['rebuild_seconds']:.2f}×" for a in ("mmap", "read")))
    row("stages, 2 threads, mmap (s): walk / plan / read / decompress / classify / place / write",
        lambda s: " / ".join(f"{find('mixed', s, 2, 'mmap')['stages'][k]:.2f}" for k in ("walk", "plan", "read", "decompress", "classify", "place", "write")))
    print()

legacy = [r for r in runs if r["label"] == "legacy"]
if legacy:
    by = {r["threads"]: r for r in legacy}
    d = legacy[0]["data"]
    print(f"Uncompressed (`legacy` tree of {legacy[0]['size']}: {d['stored_bytes'] / 1e9:.2f} GB on disk, "
          f"{d['stored_compressed_bytes'] / 1e9:.2f} GB of it in compressed files): warm rebuild ÷ read floor "
          + " / ".join(f"{by[t]['warm']['ratio_to_read_floor']:.2f}" for t in sorted(by))
          + f" at {' / '.join(str(t) for t in sorted(by))} threads; by CPU time ÷ read floor "
          + " / ".join(f"{by[t]['warm'].get('cpu_ratio_to_read_floor', float('nan')):.2f}" for t in sorted(by))
          + ", ÷ read + checksum + decompress floor (its compressed files decompressed) "
          + " / ".join(f"{by[t]['warm'].get('cpu_ratio_to_decompress_floor', float('nan')):.2f}" for t in sorted(by))
          + ".\n")

many = [r for r in runs if r["label"] == "many-files"]
for r in many:
    s = r["stages"]
    c = r["cold"]
    print(f"Many small files (`many-files` tree of {r['size']}: {r['data']['files']} segment files, "
          f"{r['data']['extents']} extents), {r['threads']} threads, {r['access']}: warm rebuild "
          f"{r['warm']['rebuild_seconds']:.1f} s, cold {c['rebuild']['seconds']:.1f} s; walk "
          f"{s['walk_us_per_file']:.0f} µs/file, plan {s['plan_us_per_file']:.0f} µs/file; peak RssAnon "
          f"{mib(r['passes']['rebuild']['peak']['anon'])}, RssFile {mib(r['passes']['rebuild']['peak']['file'])}.\n")

for r in failed:
    print(f"Failed: `bench {r['args']}` on the {r['label']} tree of {r['size']}: {' / '.join(l for l in r['failed'].strip().splitlines() if l)}\n")
