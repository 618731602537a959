#!/usr/bin/env bash
# Measure what a rebuild's memory grows by per extent, instead of estimating it from structure
# sizes: the peak RssAnon of `rebuild --no-mmap --threads 1 --dry-run` on two trees with very
# different extent counts, and the slope between them.
#
#   scripts/bench-extent-bytes.sh SMALL_TREE LARGE_TREE   # folders with Columnstore.xml (gen --out)
#
# e.g. a `mixed` tree of 512MiB (about 160 extents) and the `many-files` tree (100,000 files of
# one abbreviated extent each). One thread and positioned reads keep the buffers (one reader:
# at most 8.7 MiB) the same in both runs, so the difference is what grows with the data: per
# extent the scan's entry, the placed record and its encoded form, and per file its plan
# (path, layout, chunk slots) and its catalog rows. With one extent per file, as in
# `many-files`, a file's whole cost is counted against its extent: an upper bound for trees of
# larger files. Peak RssAnon is sampled from /proc/PID/status every 10 ms (the kernel keeps only
# the peak of RssAnon + RssFile, VmHWM).
#
# Prints both runs and the slope, in bytes per extent, and what that makes for a 10 TB database
# of 8-byte columns (64 MiB per extent: 10e12 / 64 MiB ≈ 149,000 extents).
set -euo pipefail

[ $# -eq 2 ] || { sed -n 2,19p "$0"; exit 2; }
BIN=${EMREBUILD:-target/release/emrebuild}
[ -x "$BIN" ] || cargo build --release -p emrebuild

# peak_anon TREE → "EXTENTS PEAK_RSSANON_BYTES"
peak_anon() {
  local tree=$1 out pid peak=0 kb
  out=$(mktemp)
  "$BIN" rebuild --config "$tree/Columnstore.xml" --dry-run --json -q --threads 1 --no-mmap \
    --allow-damaged >"$out" 2>/dev/null &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    kb=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "${kb:-}" ] && [ "$kb" -gt "$peak" ] && peak=$kb
    sleep 0.01
  done
  wait "$pid" || true
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["extents"], int(sys.argv[2]) * 1024)' \
    "$out" "$peak"
  rm -f "$out"
}

read -r e1 m1 < <(peak_anon "$1")
read -r e2 m2 < <(peak_anon "$2")
python3 - "$1" "$e1" "$m1" "$2" "$e2" "$m2" <<'EOF'
import sys
t1, e1, m1, t2, e2, m2 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
mib = lambda b: b / 2**20
print(f"{t1}: {e1} extents, peak RssAnon {mib(m1):.1f} MiB")
print(f"{t2}: {e2} extents, peak RssAnon {mib(m2):.1f} MiB")
if e1 == e2:
    sys.exit("the two trees have the same extent count: no slope")
slope = (m2 - m1) / (e2 - e1)
print(f"slope: {slope:.0f} bytes per extent")
extents_10tb = 10e12 / (64 * 2**20)
print(f"10 TB of 8-byte columns (64 MiB per extent, {extents_10tb:,.0f} extents): "
      f"{slope * extents_10tb / 1e6:,.0f} MB beyond the buffers")
EOF
