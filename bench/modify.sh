#!/usr/bin/env bash
# Times `isoforge modify` changing one small file in a multi-GB image against
# `cp` of the image (the copy-speed limit) and against the extract-and-rebuild
# route with xorriso, in the same run; xorriso's own in-place remastering
# (`-boot_image any replay`) is shown too. Prints mean times and ratios.
#
# Usage: bench/modify.sh            (image cached under $BENCH_DIR)
#   BENCH_DIR=/tmp/isoforge-bench   where the tree, image and outputs live
#   ISOFORGE=path/to/isoforge       binary to test (default: release build)
#   RUNS=3                          hyperfine runs per command
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/isoforge-bench}
RUNS=${RUNS:-3}
mkdir -p "$BENCH_DIR"

if [ -z "${ISOFORGE:-}" ]; then
  (cd "$here" && cargo build --release --quiet)
  ISOFORGE="${CARGO_TARGET_DIR:-$here/target}/release/isoforge"
fi

need() { command -v "$1" >/dev/null 2>&1; }
for t in hyperfine python3 xorriso; do
  need "$t" || { echo "missing $t (apt-get install hyperfine python3 xorriso)"; exit 2; }
done

tree="$BENCH_DIR/modify-tree"
img="$BENCH_DIR/modify.iso"
if [ ! -f "$img" ]; then
  echo "generating $img (2 x 1 GiB files and 2,000 small ones, bootable)..."
  rm -rf "$tree.partial"
  mkdir -p "$tree.partial/isolinux" "$tree.partial/docs"
  python3 - "$tree.partial" <<'EOF'
import os, random, sys
root = sys.argv[1]
rng = random.Random(3)
chunk = bytes(rng.getrandbits(8) for _ in range(1 << 20))
for i in range(2):
    with open(os.path.join(root, "big%d.bin" % i), "wb") as f:
        for j in range(1024):
            f.write(chunk[j % 11:] + chunk[:j % 11])
for i in range(2000):
    with open(os.path.join(root, "docs", "page%04d.txt" % i), "wb") as f:
        f.write(chunk[i:i + rng.randrange(100, 8000)])
EOF
  cp /usr/lib/ISOLINUX/isolinux.bin "$tree.partial/isolinux/"
  printf 'default x\n' >"$tree.partial/isolinux/isolinux.cfg"
  mv "$tree.partial" "$tree"
  xorriso -as mkisofs -quiet -R -J -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
    -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 \
    -boot-info-table -o "$img.partial" "$tree"
  mv "$img.partial" "$img"
  rm -rf "$tree"
fi

out="$BENCH_DIR/modify-out"
mkdir -p "$out"
printf 'autoinstall:\n  version: 1\n' >"$out/user-data"
json="$BENCH_DIR/modify.json"
# Every command writes the same output file (removed before each run), so
# the disk holds the image, one output and, for the rebuild, one extracted tree.
new="$out/new.iso"
rebuild="xorriso -osirrox on -indev '$img' -extract / '$out/x' 2>/dev/null \
  && chmod -R u+w '$out/x' && cp '$out/user-data' '$out/x/user-data' \
  && xorriso -as mkisofs -quiet -R -J -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
     -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 \
     -boot-info-table -o '$new' '$out/x' 2>/dev/null"
hyperfine --warmup 1 --runs "$RUNS" --export-json "$json" \
  --prepare "rm -rf '$new' '$out/x' && sync" \
  -n cp "cp '$img' '$new'" \
  -n isoforge "'$ISOFORGE' modify -q '$img' -o '$new' --add '/user-data=$out/user-data'" \
  -n xorriso-replay "xorriso -indev '$img' -outdev '$new' -boot_image any replay -map '$out/user-data' /user-data -commit 2>/dev/null" \
  -n extract-rebuild "$rebuild" >/dev/null
rm -rf "$new" "$out/x"

echo
echo "== one small file into a $(du -h "$img" | cut -f1) image"
python3 - "$json" <<'EOF'
import json, sys
d = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
ours = d["isoforge"]["mean"]
cp = d["cp"]["mean"]
cpu = lambda r: r.get("user", 0.0) + r.get("system", 0.0)
print("%-16s %10s %8s %12s %8s %8s" % ("command", "mean_s", "sd_s", "vs_isoforge", "vs_cp", "cpu_s"))
for n, r in d.items():
    print("%-16s %10.3f %8.3f %12.2f %8.2f %8.3f" % (n, r["mean"], r["stddev"] or 0, r["mean"] / ours, r["mean"] / cp, cpu(r)))
print()
print(("PASS " if ours <= 1.1 * cp else "MISS ") + "isoforge modify within 1.1x of cp (%.2fx)" % (ours / cp))
# On a loaded machine wall time includes waiting for a core and the disk.
c_ours, c_cp = cpu(d["isoforge"]), cpu(d["cp"])
if c_cp > 0:
    print("     CPU time (user + system): isoforge %.3fs, cp %.3fs (%.2fx)" % (c_ours, c_cp, c_ours / c_cp))
reb = d["extract-rebuild"]["mean"]
print(("PASS " if ours < reb else "MISS ") + "faster than extract-and-rebuild with xorriso (%.2fx)" % (reb / ours))
EOF
