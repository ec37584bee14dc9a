#!/usr/bin/env bash
# Times `isoforge mkisofs` against `xorriso -as mkisofs` with the same flags
# (a Debian-like line: Rock Ridge, Joliet, ISO level 3, an isolinux BIOS
# entry with a boot info table, an isohybrid MBR and a UEFI entry with a GPT)
# on a distro-like tree: a few large files (kernel, initrd, squashfs) and
# thousands of small ones (a package pool). Prints mean times and the ratio
# in the same run.
#
# Usage: bench/mkisofs.sh
#   BENCH_DIR=/tmp/isoforge-bench   where the tree and outputs live
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
for t in hyperfine python3 xorriso; do
  command -v "$t" >/dev/null || { echo "missing $t"; exit 2; }
done
isolinux=/usr/lib/ISOLINUX/isolinux.bin
isohdpfx=/usr/lib/ISOLINUX/isohdpfx.bin
for f in "$isolinux" "$isohdpfx" /usr/lib/syslinux/modules/bios/ldlinux.c32; do
  [ -f "$f" ] || { echo "missing $f (apt-get install isolinux syslinux-common)"; exit 2; }
done

tree="$BENCH_DIR/mkisofs-tree"
if [ ! -d "$tree" ]; then
  echo "generating $tree (~0.8 GB: 3 large files, 20,000 small ones)..."
  rm -rf "$tree.partial"
  python3 - "$tree.partial" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(3)
block = bytes(rng.getrandbits(8) for _ in range(1 << 20))
def big(path, mib):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        for j in range(mib):
            f.write(block[j % 11:] + block[:j % 11])
big(os.path.join(root, "live/vmlinuz"), 8)
big(os.path.join(root, "live/initrd.img"), 64)
big(os.path.join(root, "live/filesystem.squashfs"), 400)
for i in range(20000):
    d = os.path.join(root, "pool/main", "%c" % (97 + i % 26), "pkg%04d" % (i % 1500))
    os.makedirs(d, exist_ok=True)
    n = rng.randrange(0, 32768)
    with open(os.path.join(d, "package-%05d_1.%d-%d_amd64.deb" % (i, i % 9, i % 4)), "wb") as f:
        f.write(block[:n])
os.makedirs(os.path.join(root, "boot/grub"), exist_ok=True)
with open(os.path.join(root, "boot/grub/efi.img"), "wb") as f:
    f.write(b"\0" * (2880 * 1024))
PY
  mkdir -p "$tree.partial/isolinux"
  cp "$isolinux" /usr/lib/syslinux/modules/bios/ldlinux.c32 "$tree.partial/isolinux/"
  mv "$tree.partial" "$tree"
fi

out="$BENCH_DIR/mkisofs-out"
mkdir -p "$out"
flags="-R -J -joliet-long -iso-level 3 -V BENCH -isohybrid-mbr $isohdpfx -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table -eltorito-alt-boot -e boot/grub/efi.img -no-emul-boot -isohybrid-gpt-basdat"
json="$BENCH_DIR/mkisofs.json"
hyperfine --warmup 1 --runs "$RUNS" --export-json "$json" --cleanup "rm -f '$out'/*" \
  -n isoforge "'$ISOFORGE' mkisofs -quiet $flags -o '$out/isoforge.iso' '$tree'" \
  -n xorriso "xorriso -as mkisofs -quiet $flags -o '$out/xorriso.iso' '$tree' 2>/dev/null" >/dev/null
python3 - "$json" <<'PY'
import json, sys
d = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
ours = d["isoforge"]["mean"]
print("%-10s %10s %8s %8s" % ("command", "mean_s", "sd_s", "ratio"))
for n in ("isoforge", "xorriso"):
    r = d[n]
    print("%-10s %10.3f %8.3f %8.2f" % (n, r["mean"], r["stddev"] or 0, r["mean"] / ours))
print("ratio = xorriso time / isoforge time (> 1: isoforge is faster; goal 1.5)")
PY
