#!/usr/bin/env bash
# Times `isoforge create` against xorriso, genisoimage and bsdtar on a tree of
# about 60,000 small files (~0.5 GB) and on a tree of a few large files
# (~3 GB), and against `cat` of all input files into one file (the physical
# limit), in the same run. Prints mean times, ratios and peak memory.
#
# Usage: bench/create.sh            (trees cached under $BENCH_DIR)
#   BENCH_DIR=/tmp/isoforge-bench   where trees and outputs live
#   ISOFORGE=path/to/isoforge       binary to test (default: release build)
#   RUNS=3                          hyperfine runs per command
set -euo pipefail
export LC_ALL=C # printf %f parses the means with a dot

here=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/isoforge-bench}
RUNS=${RUNS:-3}
mkdir -p "$BENCH_DIR"

if [ -z "${ISOFORGE:-}" ]; then
  (cd "$here" && cargo build --release --quiet)
  ISOFORGE="${CARGO_TARGET_DIR:-$here/target}/release/isoforge"
fi

need() { command -v "$1" >/dev/null 2>&1; }
for t in hyperfine python3; do
  need "$t" || { echo "missing $t (apt-get install hyperfine python3)"; exit 2; }
done
# Peak memory comes from GNU time; without it every RSS would read as 0 and
# the memory target would pass unmeasured.
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time (apt-get install time)"; exit 2; }

small="$BENCH_DIR/create-small"
large="$BENCH_DIR/create-large"
if [ ! -d "$small" ]; then
  echo "generating $small (60,000 files, ~0.5 GB)..."
  # Built beside and renamed when complete: an interrupted run must not leave
  # a partial tree that later runs would take as cached.
  rm -rf "$small.partial"
  python3 - "$small.partial" <<'EOF'
import os, random, sys
root = sys.argv[1]
rng = random.Random(1)
block = bytes(rng.getrandbits(8) for _ in range(1 << 16))
for i in range(60000):
    d = os.path.join(root, "d%02d" % (i % 37), "s%03d" % (i % 211), "t%d" % (i % 3))
    os.makedirs(d, exist_ok=True)
    n = rng.randrange(0, 16384)
    off = rng.randrange(0, len(block) - n) if n < len(block) else 0
    name = "file-%05d-%s.dat" % (i, "x" * (i % 70))
    with open(os.path.join(d, name), "wb") as f:
        f.write(block[off:off + n])
EOF
  mv "$small.partial" "$small"
fi
if [ ! -d "$large" ]; then
  echo "generating $large (3 x 1 GiB)..."
  rm -rf "$large.partial"
  mkdir -p "$large.partial"
  python3 - "$large.partial" <<'EOF'
import os, random, sys
rng = random.Random(2)
chunk = bytes(rng.getrandbits(8) for _ in range(1 << 20))
for i in range(3):
    with open(os.path.join(sys.argv[1], "big%d.bin" % i), "wb") as f:
        for j in range(1024):
            f.write(chunk[j % 7:] + chunk[:j % 7])
EOF
  mv "$large.partial" "$large"
fi

out="$BENCH_DIR/out"
mkdir -p "$out"
results=()

bench() { # label tree
  local label=$1 tree=$2 json="$BENCH_DIR/create-$1.json"
  local cmds=(
    "cat-limit::find '$tree' -type f -print0 | xargs -0 cat > '$out/cat.bin'"
    "isoforge::'$ISOFORGE' create -q -o '$out/isoforge.iso' '$tree'"
  )
  need xorriso && cmds+=("xorriso::xorriso -as mkisofs -quiet -R -J -o '$out/xorriso.iso' '$tree' 2>/dev/null")
  need genisoimage && cmds+=("genisoimage::genisoimage -quiet -R -J -o '$out/genisoimage.iso' '$tree' 2>/dev/null")
  need bsdtar && cmds+=("bsdtar::bsdtar --format iso9660 -cf '$out/bsdtar.iso' -C '$tree' . 2>/dev/null")
  local args=() names=()
  for c in "${cmds[@]}"; do
    names+=("${c%%::*}")
    args+=(-n "${c%%::*}" "${c#*::}")
  done
  # Each command's runs replace its own output; its output goes when its
  # runs are done, so the disk holds one output at a time.
  hyperfine --warmup 1 --runs "$RUNS" --export-json "$json" \
    --cleanup "rm -f '$out'/*" "${args[@]}" >/dev/null
  echo
  echo "== $label tree ($(du -sh "$tree" | cut -f1))"
  printf '%-12s %10s %8s %12s %8s %12s\n' command mean_s sd_s vs_isoforge vs_cat peak_rss_MB
  local ours cat
  ours=$(python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print([r['mean'] for r in d['results'] if r['command']=='isoforge'][0])" "$json")
  cat=$(python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print([r['mean'] for r in d['results'] if r['command']=='cat-limit'][0])" "$json")
  for c in "${cmds[@]}"; do
    local n=${c%%::*} cmd=${c#*::} mean sd rss
    mean=$(python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print('%.3f'%[r['mean'] for r in d['results'] if r['command']==sys.argv[2]][0])" "$json" "$n")
    sd=$(python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print('%.3f'%[r['stddev'] or 0 for r in d['results'] if r['command']==sys.argv[2]][0])" "$json" "$n")
    rss=$( { /usr/bin/time -v sh -c "$cmd" >/dev/null; } 2>&1 | awk -F: '/Maximum resident/ {printf "%.1f", $2/1024}')
    rm -f "$out"/*
    [ -n "$rss" ] || { echo "no peak RSS measured for $n"; exit 1; }
    printf '%-12s %10s %8s %12.2f %8.2f %12s\n' "$n" "$mean" "$sd" \
      "$(python3 -c "print($mean/$ours)")" "$(python3 -c "print($mean/$cat)")" "$rss"
    results+=("$label $n $mean $rss")
  done
}

bench small "$small"
bench large "$large"

echo
echo "== targets"
python3 - "${results[@]}" <<'EOF'
import sys
rows = [a.split() for a in sys.argv[1:]]
t = {(r[0], r[1]): (float(r[2]), float(r[3])) for r in rows}
def check(name, ok):
    print(("PASS " if ok else "MISS ") + name)
s_cat, s_ours = t[("small", "cat-limit")][0], t[("small", "isoforge")][0]
l_cat, l_ours = t[("large", "cat-limit")][0], t[("large", "isoforge")][0]
check("small tree within 1.3x of the cat limit (%.2fx)" % (s_ours / s_cat), s_ours <= 1.3 * s_cat)
check("small tree peak memory under 50 MB (%.1f MB)" % t[("small", "isoforge")][1], t[("small", "isoforge")][1] < 50)
check("large tree within 1.1x of the cat limit (%.2fx)" % (l_ours / l_cat), l_ours <= 1.1 * l_cat)
for peer in ("genisoimage", "xorriso"):
    if ("small", peer) in t:
        print("     small tree: isoforge %.2fx faster than %s" % (t[("small", peer)][0] / s_ours, peer))
EOF
