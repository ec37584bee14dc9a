#!/usr/bin/env bash
# Times `isoforge checksum` against coreutils on a multi-GiB image held in the
# page cache. Targets: sha256 >= 4x sha256sum; sha256,sha1,md5 >= 2x sha256sum.
#   BENCH_DIR (default /tmp/isoforge-bench), BENCH_SIZE_MIB (default 3072),
#   BENCH_RUNS (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${BENCH_DIR:-/tmp/isoforge-bench}
size_mib=${BENCH_SIZE_MIB:-3072}
runs=${BENCH_RUNS:-3}
img="$dir/bench-${size_mib}M.img"
mkdir -p "$dir"
if [ ! -f "$img" ] || [ "$(stat -c %s "$img")" -ne $((size_mib << 20)) ]; then
  echo "creating $img (${size_mib} MiB of random data, once)"
  head -c $((size_mib << 20)) /dev/urandom > "$img.tmp"
  mv "$img.tmp" "$img"
fi

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -p isoforge-cli --quiet
bin="$CARGO_TARGET_DIR/release/isoforge"

cat "$img" > /dev/null # warm the page cache
json="$dir/checksum.json"
hyperfine --warmup 1 --runs "$runs" --export-json "$json" \
  -n sha256sum "sha256sum '$img'" \
  -n sha1sum "sha1sum '$img'" \
  -n md5sum "md5sum '$img'" \
  -n sha512sum "sha512sum '$img'" \
  -n "isoforge sha256" "'$bin' checksum --algo sha256 '$img'" \
  -n "isoforge sha256,sha1,md5" "'$bin' checksum --algo sha256,sha1,md5 '$img'" \
  -n "isoforge all four" "'$bin' checksum --algo sha256,sha512,sha1,md5 '$img'"

python3 - "$json" "$size_mib" <<'PY'
import json, sys
res = {r["command"]: r["mean"] for r in json.load(open(sys.argv[1]))["results"]}
mib = int(sys.argv[2])
base = res["sha256sum"]
print(f"\n{'command':28} {'mean s':>8} {'MiB/s':>8} {'vs sha256sum':>13}")
for name, t in res.items():
    print(f"{name:28} {t:8.3f} {mib / t:8.0f} {base / t:12.2f}x")
for name, want in [("isoforge sha256", 4.0), ("isoforge sha256,sha1,md5", 2.0)]:
    got = base / res[name]
    print(f"target {name}: {got:.2f}x (want >= {want}x): {'met' if got >= want else 'MISSED'}")
PY
