#!/usr/bin/env bash
# Times reading through `isoforge mount` against fuseiso and archivemount
# mounts of the same images, and against `isoforge extract` (to a tmpfs), in
# the same run:
#   - whole tree:   tar cf - -C MOUNT . | cat > /dev/null   (small and mixed trees)
#   - every file:   find MOUNT -type f -print0 | xargs -0 cat > /dev/null
#   - one large file: cat MOUNT/big.bin > /dev/null
# Every timed run gets a fresh mount (so no run reads another's page cache);
# the image files themselves stay in the page cache. Prints mean times and
# ratios. Targets: >= 10x faster than archivemount on the small tree; whole
# tree reads within 1.5x of `isoforge extract`.
#
# Usage: bench/mount.sh             (images cached under $BENCH_DIR)
#   BENCH_DIR=/tmp/isoforge-bench   where trees, images and mount points live
#   ISOFORGE=path/to/isoforge       binary to test (default: release build)
#   RUNS=3                          runs per command
#   SMALL_FILES=5000                files in the small tree
#   LARGE_MIB=1024                  size of the large file
#   PEER_TIMEOUT=300                seconds a peer may take for one run
# Needs: fuse3, fuseiso, archivemount, xorriso, python3 (Debian packages).
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/isoforge-bench}
RUNS=${RUNS:-3}
SMALL_FILES=${SMALL_FILES:-5000}
LARGE_MIB=${LARGE_MIB:-1024}
PEER_TIMEOUT=${PEER_TIMEOUT:-300}
mkdir -p "$BENCH_DIR"

if [ -z "${ISOFORGE:-}" ]; then
  (cd "$here" && cargo build --release --quiet)
  ISOFORGE="${CARGO_TARGET_DIR:-$here/target}/release/isoforge"
fi

need() { command -v "$1" >/dev/null 2>&1; }
for t in xorriso python3 fusermount3; do
  need "$t" || { echo "missing $t (apt-get install fuse3 xorriso python3)"; exit 2; }
done

# --- images -----------------------------------------------------------------
small_tree="$BENCH_DIR/mount-small-$SMALL_FILES"
mixed_tree="$BENCH_DIR/mount-mixed-$SMALL_FILES"
large_tree="$BENCH_DIR/mount-large-$LARGE_MIB"
if [ ! -d "$small_tree" ]; then
  echo "generating $small_tree ($SMALL_FILES files)..."
  rm -rf "$small_tree.partial"
  python3 - "$small_tree.partial" "$SMALL_FILES" <<'EOF'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(1)
block = bytes(rng.getrandbits(8) for _ in range(1 << 16))
for i in range(n):
    d = os.path.join(root, "d%02d" % (i % 23), "s%03d" % (i % 97))
    os.makedirs(d, exist_ok=True)
    k = rng.randrange(0, 16384)
    off = rng.randrange(0, len(block) - k)
    with open(os.path.join(d, "file-%05d.dat" % i), "wb") as f:
        f.write(block[off:off + k])
EOF
  mv "$small_tree.partial" "$small_tree"
fi
if [ ! -d "$mixed_tree" ]; then
  echo "generating $mixed_tree (small tree + 4 files of 64 MiB)..."
  rm -rf "$mixed_tree.partial"
  cp -a "$small_tree" "$mixed_tree.partial"
  for i in 1 2 3 4; do head -c $((64 << 20)) /dev/urandom > "$mixed_tree.partial/big-$i.bin"; done
  mv "$mixed_tree.partial" "$mixed_tree"
fi
if [ ! -d "$large_tree" ]; then
  echo "generating $large_tree (one file of $LARGE_MIB MiB)..."
  rm -rf "$large_tree.partial"
  mkdir -p "$large_tree.partial"
  head -c $((LARGE_MIB << 20)) /dev/urandom > "$large_tree.partial/big.bin"
  mv "$large_tree.partial" "$large_tree"
fi
for name in small mixed large; do
  tree_var="${name}_tree"
  img="$BENCH_DIR/mount-$name.iso"
  if [ ! -f "$img" ] || [ "${!tree_var}" -nt "$img" ]; then
    xorriso -as mkisofs -quiet -R -J -o "$img.partial" "${!tree_var}"
    mv "$img.partial" "$img"
  fi
  cat "$img" > /dev/null # warm the page cache
done

# --- mounting ---------------------------------------------------------------
mnt="$BENCH_DIR/mnt"
mkdir -p "$mnt"
unmount() { fusermount3 -u "$mnt" 2>/dev/null || true; }
trap unmount EXIT
unmount
mounted() { grep -q " $mnt " /proc/self/mountinfo; }
do_mount() { # tool image
  case "$1" in
    isoforge) "$ISOFORGE" mount "$2" "$mnt" ;;
    fuseiso) fuseiso "$2" "$mnt" ;;
    archivemount) archivemount -o ro,readonly "$2" "$mnt" >/dev/null ;;
  esac
  # fuseiso and archivemount return after forking; wait for the mount.
  for _ in $(seq 1 500); do mounted && return 0; sleep 0.01; done
  return 1
}

now() { date +%s.%N; }
declare -A mean
# run NAME TOOL IMAGE COMMAND: mean of $RUNS runs, a fresh mount each.
time_tool() {
  local label=$1 tool=$2 img=$3 cmd=$4 total=0 t0 t1 i
  for i in $(seq 1 "$RUNS"); do
    if [ "$tool" = extract ]; then
      rm -rf /dev/shm/isoforge-bench-x
      t0=$(now)
      "$ISOFORGE" extract "$img" -C /dev/shm/isoforge-bench-x
      t1=$(now)
      rm -rf /dev/shm/isoforge-bench-x
    else
      if ! do_mount "$tool" "$img"; then
        mean[$label]="cannot-mount"; unmount; return
      fi
      t0=$(now)
      if ! timeout "$PEER_TIMEOUT" bash -c "$cmd"; then
        mean[$label]="timeout>${PEER_TIMEOUT}s"; unmount; return
      fi
      t1=$(now)
      unmount
    fi
    total=$(echo "$total + $t1 - $t0" | bc -l)
  done
  mean[$label]=$(echo "$total / $RUNS" | bc -l)
}

tar_all="tar cf - -C '$mnt' . | cat > /dev/null"
cat_all="find '$mnt' -type f -print0 | xargs -0 cat > /dev/null"
cat_big="cat '$mnt/big.bin' > /dev/null"

rows=()
bench() { # title image command [extract]
  local title=$1 img=$2 cmd=$3 with_extract=${4:-}
  echo "== $title"
  local tools=(isoforge fuseiso archivemount)
  for tool in "${tools[@]}"; do
    if [ "$tool" != isoforge ] && ! need "$tool"; then
      mean["$title/$tool"]="not-installed"; continue
    fi
    time_tool "$title/$tool" "$tool" "$img" "$cmd"
  done
  if [ -n "$with_extract" ]; then
    time_tool "$title/extract" extract "$img" ""
    tools+=(extract)
  fi
  local base=${mean["$title/isoforge"]}
  printf '  %-26s %10s %8s\n' command "mean s" ratio
  for tool in "${tools[@]}"; do
    local m=${mean["$title/$tool"]} name=$tool
    [ "$tool" = extract ] && name="isoforge extract (tmpfs)"
    [ "$tool" = isoforge ] && name="isoforge mount"
    if [[ $m =~ ^[0-9.]+$ ]]; then
      printf '  %-26s %10.3f %8.2f\n' "$name" "$m" "$(echo "$m / $base" | bc -l)"
    else
      printf '  %-26s %10s %8s\n' "$name" "$m" "-"
    fi
  done
}

bench "small tree: tar of the mount" "$BENCH_DIR/mount-small.iso" "$tar_all" extract
bench "small tree: find | xargs cat" "$BENCH_DIR/mount-small.iso" "$cat_all"
bench "mixed tree: tar of the mount" "$BENCH_DIR/mount-mixed.iso" "$tar_all" extract
bench "mixed tree: find | xargs cat" "$BENCH_DIR/mount-mixed.iso" "$cat_all"
bench "large file: cat" "$BENCH_DIR/mount-large.iso" "$cat_big" extract

echo
echo "  ratio = time / isoforge mount time (> 1: isoforge mount is faster)"
echo
echo "Targets"
target() { # label numerator denominator want
  local a=${mean[$2]} b=${mean[$3]}
  if [[ $a =~ ^[0-9.]+$ ]] && [[ $b =~ ^[0-9.]+$ ]]; then
    local r; r=$(echo "$a / $b" | bc -l)
    if (( $(echo "$r >= $4" | bc -l) )); then s=PASS; else s=FAIL; fi
    printf '  %-6s %s: %.2fx\n' "$s" "$1" "$r"
  else
    printf '  %-6s %s: %s / %s\n' "n/a" "$1" "$a" "$b"
  fi
}
target "small tree (find|cat) >= 10x faster than archivemount" \
  "small tree: find | xargs cat/archivemount" "small tree: find | xargs cat/isoforge" 10
target "small tree (tar) >= 10x faster than archivemount" \
  "small tree: tar of the mount/archivemount" "small tree: tar of the mount/isoforge" 10
for t in "small tree: tar of the mount" "mixed tree: tar of the mount" "large file: cat"; do
  target "$t within 1.5x of isoforge extract (extract/mount >= 0.67)" "$t/extract" "$t/isoforge" 0.6667
done
echo
echo "  warm page cache for the images; timings on a shared machine are noisy"
