#!/usr/bin/env bash
# bench/udf.sh: time isoforge reading a large ISO 9660 / UDF bridge
# (`genisoimage -udf`) through its UDF view against 7-Zip's UDF handler:
# `ls -r -l` against `7z l`, and extraction against `7z x`, with ratios and
# peak memory.
#
# Usage: bench/udf.sh            (from anywhere in the repository)
#
# Environment:
#   ISOFORGE=path       isoforge binary (default: cargo build --release)
#   BENCH_DIR=dir       data, image and results (default /tmp/isoforge-bench-udf);
#                       the tree and image are kept and reused between runs
#   RUNS=n WARMUP=n     hyperfine runs and warmups per command (default 3 and 1)
#   SMALL_FILES=n       small files in the tree (default 30000)
#   LARGE_MIB="a b .."  sizes in MiB of the large files (default "512 256")
#   EXTRACT_DIR=dir     where extractions go (default a directory in /dev/shm)
#
# Warm page cache: the image is read from memory after the warmup run.
set -euo pipefail

die() { printf 'udf.sh: %s\n' "$*" >&2; exit 2; }
have() { command -v "$1" >/dev/null 2>&1; }
log() { printf '\n== %s\n' "$*" >&2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/isoforge-bench-udf}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-1}
SMALL_FILES=${SMALL_FILES:-30000}
LARGE_MIB=${LARGE_MIB:-512 256}
EXTRACT_DIR=${EXTRACT_DIR:-/dev/shm/isoforge-bench-udf}

for t in hyperfine python3 genisoimage 7z; do
    have "$t" || die "$t is required"
done

if [[ -z "${ISOFORGE:-}" ]]; then
    log "cargo build --release"
    (cd "$repo" && cargo build --release --quiet)
    ISOFORGE="${CARGO_TARGET_DIR:-$repo/target}/release/isoforge"
fi
[[ -x "$ISOFORGE" ]] || die "isoforge binary not found: $ISOFORGE"

mkdir -p "$BENCH_DIR"
data=$BENCH_DIR/data
res=$BENCH_DIR/results
mkdir -p "$data" "$res"
rm -f "$res"/*.json "$res"/*.rss
tree=$data/tree
img=$data/udf-bridge.iso

if [[ ! -f "$tree/.complete" ]]; then
    log "generating $SMALL_FILES small files and large files of $LARGE_MIB MiB in $tree"
    rm -rf "$tree"
    python3 - "$tree" "$SMALL_FILES" $LARGE_MIB <<'EOF'
import os, random, sys
root, n, large = sys.argv[1], int(sys.argv[2]), [int(x) for x in sys.argv[3:]]
rng = random.Random(20240601)
pool = rng.randbytes(32 << 20)
dirs = [""]
for i in range(max(1, n // 50)):
    d = os.path.join(rng.choice(dirs[-50:]) if rng.random() < 0.5 else "", f"dir{i:04d}")
    dirs.append(d)
for d in dirs:
    os.makedirs(os.path.join(root, d), exist_ok=True)
for i in range(n):
    size = rng.randint(0, 16384)
    off = rng.randrange(0, len(pool) - size)
    with open(os.path.join(root, rng.choice(dirs), f"f{i:06d}.dat"), "wb") as f:
        f.write(pool[off:off + size])
os.makedirs(os.path.join(root, "large"), exist_ok=True)
for j, mib in enumerate(large):
    with open(os.path.join(root, "large", f"big{j}.bin"), "wb") as f:
        for k in range(mib):
            off = rng.randrange(0, len(pool) - (1 << 20))
            f.write(pool[off:off + (1 << 20)])
EOF
    touch "$tree/.complete"
    rm -f "$img"
fi
if [[ ! -f "$img" ]]; then
    log "building $img (genisoimage -udf -R -J)"
    genisoimage -quiet -udf -R -J -o "$img.tmp" "$tree" || die "genisoimage failed"
    mv "$img.tmp" "$img"
fi

mkdir -p "$EXTRACT_DIR"
ours=$EXTRACT_DIR/isoforge
theirs=$EXTRACT_DIR/7z
cleanup() { rm -rf "$EXTRACT_DIR"; }
trap cleanup EXIT

bench() { # NAME PREPARE COMMAND
    local name=$1 prep=$2 cmd=$3
    hyperfine --style none --runs "$RUNS" --warmup "$WARMUP" --prepare "$prep" \
        --export-json "$res/$name.json" "$cmd" >/dev/null
    # Peak memory of one more run.
    sh -c "$prep"
    /usr/bin/time -f '%M' -o "$res/$name.rss" sh -c "$cmd" >/dev/null 2>&1 || true
}

log "listing"
bench ours-ls true "'$ISOFORGE' ls -r -l --view udf '$img' >/dev/null"
bench ours-ls-auto true "'$ISOFORGE' ls -r -l '$img' >/dev/null"
bench 7z-l true "7z l -tudf '$img' >/dev/null"
log "extraction"
bench ours-x "rm -rf '$ours'" "'$ISOFORGE' extract --view udf '$img' -C '$ours'"
bench 7z-x "rm -rf '$theirs'" "7z x -tudf -y -o'$theirs' '$img' >/dev/null"

# Both extractions hold the same tree.
rm -rf "$ours" "$theirs"
"$ISOFORGE" extract --view udf "$img" -C "$ours"
7z x -tudf -y -o"$theirs" "$img" >/dev/null
diff -r "$ours" "$theirs" >/dev/null || die "isoforge and 7z extracted different trees"

python3 - "$res" "$img" <<'EOF'
import json, os, sys
res, img = sys.argv[1], sys.argv[2]
def load(n):
    j = json.load(open(os.path.join(res, n + ".json")))["results"][0]
    try:
        rss = int(open(os.path.join(res, n + ".rss")).read().split()[-1]) / 1024
    except Exception:
        rss = float("nan")
    return j["mean"], j["stddev"] or 0.0, rss, j["user"] + j["system"]
print(f"\nUDF bridge {os.path.basename(img)}: {os.path.getsize(img) / 2**20:.0f} MiB")
for title, ref, rows in [
    ("Listing", "ours-ls", [("isoforge ls -r -l --view udf", "ours-ls"),
                            ("isoforge ls -r -l (auto)", "ours-ls-auto"),
                            ("7z l -tudf", "7z-l")]),
    ("Extraction (to tmpfs)", "ours-x", [("isoforge extract --view udf", "ours-x"),
                                         ("7z x -tudf", "7z-x")]),
]:
    base = load(ref)[0]
    base_cpu = load(ref)[3]
    print(f"\n  {title}\n    {'command':30} {'mean':>8} {'± sd':>8} {'ratio':>7} {'CPU':>8} {'ratio':>7} {'max RSS':>11}")
    for label, n in rows:
        m, sd, rss, cpu = load(n)
        print(f"    {label:30} {m:7.3f}s {sd:7.3f}s {m / base:7.2f} {cpu:7.3f}s {cpu / base_cpu:7.2f} {rss:7.1f} MiB")
print("\n    ratio = command time / isoforge time (> 1: isoforge is faster);")
print("    CPU = user + system time (what a loaded machine distorts least)")
EOF
