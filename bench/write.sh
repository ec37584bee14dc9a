#!/usr/bin/env bash
# Times `isoforge write` against dd onto a loop device backed by a file on
# disk (as root): writing alone against `dd bs=4M oflag=direct conv=fsync`,
# and writing plus read-back against `dd bs=4M` + `cmp` (and the direct dd +
# cmp). Target: isoforge write (with its verification) no slower than dd +
# cmp.
#   BENCH_DIR (default /var/tmp/isoforge-bench: on disk, not a tmpfs),
#   BENCH_SIZE_MIB (default 2048), BENCH_RUNS (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${BENCH_DIR:-/var/tmp/isoforge-bench}
size_mib=${BENCH_SIZE_MIB:-2048}
runs=${BENCH_RUNS:-3}
img="$dir/write-${size_mib}M.img"
backing="$dir/write-stick.img"
mkdir -p "$dir"
if [ ! -f "$img" ] || [ "$(stat -c %s "$img")" -ne $((size_mib << 20)) ]; then
  echo "creating $img (${size_mib} MiB of random data, once)"
  head -c $((size_mib << 20)) /dev/urandom > "$img.tmp"
  mv "$img.tmp" "$img"
fi

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -p isoforge-cli --quiet
bin="$CARGO_TARGET_DIR/release/isoforge"

# The "stick": a preallocated file 64 MiB larger than the image.
rm -f "$backing"
fallocate -l $(((size_mib + 64) << 20)) "$backing"
dev=$(losetup -f --show "$backing")
trap 'losetup -d "$dev"; rm -f "$backing"' EXIT
echo "image $img (${size_mib} MiB) -> $dev over $backing"
n=$((size_mib << 20))

cat "$img" > /dev/null # warm the page cache: every command reads the image from it
json="$dir/write.json"
# Before each run, nothing dirty is left to flush and the device's cached
# pages are gone, so no command reads back what an earlier one wrote.
hyperfine --runs "$runs" --export-json "$json" \
  --prepare "sync; blockdev --flushbufs $dev" \
  -n "dd direct" "dd if='$img' of=$dev bs=4M oflag=direct conv=fsync status=none" \
  -n "isoforge write --no-verify" "'$bin' write -q --yes --allow-loop --no-verify '$img' $dev" \
  -n "dd + cmp" "dd if='$img' of=$dev bs=4M status=none && cmp -n $n '$img' $dev" \
  -n "dd direct + cmp" "dd if='$img' of=$dev bs=4M oflag=direct conv=fsync status=none && cmp -n $n '$img' $dev" \
  -n "isoforge write" "'$bin' write -q --yes --allow-loop '$img' $dev"

python3 - "$json" "$size_mib" <<'PY'
import json, sys
res = {r["command"]: (r["mean"], r.get("stddev") or 0.0) for r in json.load(open(sys.argv[1]))["results"]}
mib = int(sys.argv[2])
print(f"\n{'command':28} {'mean s':>8} {'± sd':>7} {'MiB/s':>8}")
for name, (t, sd) in res.items():
    print(f"{name:28} {t:8.2f} {sd:7.2f} {mib / t:8.0f}")
pairs = [("dd direct", "isoforge write --no-verify"), ("dd + cmp", "isoforge write"),
         ("dd direct + cmp", "isoforge write")]
print()
for peer, ours in pairs:
    r = res[peer][0] / res[ours][0]
    print(f"{ours} vs {peer}: {r:.2f}x (> 1: isoforge is faster)")
r = res["dd + cmp"][0] / res["isoforge write"][0]
print(f"target isoforge write (verified) no slower than dd + cmp: {'met' if r >= 1.0 else 'MISSED'} ({r:.2f}x)")
PY
uptime
