#!/usr/bin/env bash
# bench/read.sh: time isoforge's read paths (listing, extraction) against
# isoinfo, 7z, bsdtar and xorriso, report peak memory, and check the targets.
#
# Usage: bench/read.sh            (from anywhere in the repository)
#
# Environment:
#   ISOFORGE=path       isoforge binary to test (default: build it with
#                       `cargo build --release` and use
#                       $CARGO_TARGET_DIR/release/isoforge or target/release/isoforge)
#   BENCH_DIR=dir       data, images and results (default /tmp/isoforge-bench);
#                       trees and images are kept and reused between runs
#   RUNS=n WARMUP=n     hyperfine runs and warmups per command (default 3 and 1)
#   SMALL_FILES=n       files in the small-file tree (default 60000)
#   LARGE_MIB="a b .."  sizes in MiB of the large files (default "1536 768 512 256")
#   SKIP_LARGE=1        skip the large-file image
#   SKIP_SCALE=1        skip the 4x image used for the memory-flatness check
#   SKIP_EXTRACT=1      only the listings (no extraction, no memory check)
#   PREPARE_SYNC=0      do not `sync` before each timed extraction
#   GENERATE_ONLY=1     only generate the trees and images, then stop
#   SMALL_EXTRACT_FS=   where the small-file image is extracted to:
#                       tmpfs (default; a directory in /dev/shm),
#                       ext4 (a fresh ext4 file system on a loop device for
#                       every run; needs root), or disk (under $BENCH_DIR)
#
# Everything runs with a warm page cache (the image is read from memory after
# the warmup run); dropping caches is not reliably possible here.
set -euo pipefail

die() { printf 'read.sh: %s\n' "$*" >&2; exit 2; }
have() { command -v "$1" >/dev/null 2>&1; }
log() { printf '\n== %s\n' "$*" >&2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/isoforge-bench}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-1}
SMALL_FILES=${SMALL_FILES:-60000}
LARGE_MIB=${LARGE_MIB:-1536 768 512 256}
SKIP_LARGE=${SKIP_LARGE:-0}
SKIP_SCALE=${SKIP_SCALE:-0}
SKIP_EXTRACT=${SKIP_EXTRACT:-0}
PREPARE_SYNC=${PREPARE_SYNC:-1}
GENERATE_ONLY=${GENERATE_ONLY:-0}
SMALL_EXTRACT_FS=${SMALL_EXTRACT_FS:-tmpfs}

have hyperfine || die "hyperfine is required"
have python3 || die "python3 is required (data generation and report)"
have xorriso || die "xorriso is required (it builds the images)"

# --- 1. build ---------------------------------------------------------------
if [[ "$GENERATE_ONLY" == 1 ]]; then
    ISOFORGE=/bin/true
elif [[ -z "${ISOFORGE:-}" ]]; then
    log "cargo build --release"
    (cd "$repo" && cargo build --release --quiet)
    ISOFORGE="${CARGO_TARGET_DIR:-$repo/target}/release/isoforge"
fi
[[ -x "$ISOFORGE" ]] || die "isoforge binary not found: $ISOFORGE"
ISOFORGE=$(cd "$(dirname "$ISOFORGE")" && pwd)/$(basename "$ISOFORGE")

mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
data=$BENCH_DIR/data
out=$BENCH_DIR/out
res=$BENCH_DIR/results
mkdir -p "$data" "$out" "$res"
rm -f "$res"/*.json "$res"/*.rss

# --- 2. data and images (generated once, then reused) -----------------------
small_tree=$data/small
small_iso=$data/small.iso
scale_iso=$data/small-x4.iso
large_tree=$data/large
large_iso=$data/large.iso

if [[ ! -f "$small_tree/.complete" ]]; then
    log "generating $SMALL_FILES small files in $small_tree"
    rm -rf "$small_tree"
    python3 - "$small_tree" "$SMALL_FILES" <<'EOF'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(20240601)
pool = rng.randbytes(32 << 20)          # content is sliced from this pool
# A random directory tree: each new directory hangs under an earlier one,
# at most 6 levels deep.
dirs = [("", 0)]
for i in range(max(1, n // 50)):
    parent, depth = rng.choice(dirs)
    if depth >= 6:
        parent, depth = "", 0
    name = f"dir{i:04d}" if rng.random() < 0.9 else \
        f"directory_{i:04d}_with_a_rather_long_name_" + "x" * rng.randint(30, 60)
    dirs.append((os.path.join(parent, name), depth + 1))
for d, _ in dirs:
    os.makedirs(os.path.join(root, d), exist_ok=True)
total = 0
for i in range(n):
    d, _ = rng.choice(dirs)
    if rng.random() < 0.1:   # > 64 chars: Joliet truncation matters
        name = f"f{i:06d}_a_long_file_name_that_goes_past_the_joliet_limit_" \
            + "y" * rng.randint(10, 60) + ".dat"
    else:
        name = f"f{i:06d}.dat"
    size = rng.randint(0, 16384)
    off = rng.randrange(0, len(pool) - size)
    with open(os.path.join(root, d, name), "wb") as f:
        f.write(pool[off:off + size])
    total += size
print(f"{n} files, {len(dirs)} directories, {total / 2**20:.0f} MiB", file=sys.stderr)
EOF
    touch "$small_tree/.complete"
    rm -f "$small_iso" "$scale_iso"
fi

mkiso() { # OUT ARGS...: build an image with Rock Ridge and long Joliet names
    local o=$1; shift
    log "building $o"
    xorriso -as mkisofs -quiet -R -J -joliet-long -o "$o.tmp" "$@" >/dev/null 2>&1 \
        || { rm -f "$o.tmp"; die "xorriso failed building $o"; }
    mv "$o.tmp" "$o"
}

[[ -f "$small_iso" ]] || mkiso "$small_iso" -m .complete "$small_tree"
if [[ "$SKIP_SCALE" != 1 && ! -f "$scale_iso" ]]; then
    # Four copies of the small tree: 4x the directory records. xorriso
    # writes the content of a source file once, so the image grows less.
    mkiso "$scale_iso" -m .complete -graft-points \
        "a=$small_tree" "b=$small_tree" "c=$small_tree" "d=$small_tree"
fi

if [[ "$SKIP_LARGE" != 1 ]]; then
    if [[ ! -f "$large_tree/.complete" ]]; then
        log "generating large files ($LARGE_MIB MiB) in $large_tree"
        have openssl || die "openssl is required to generate the large files"
        rm -rf "$large_tree"
        mkdir -p "$large_tree/sub"
        i=0
        for mib in $LARGE_MIB; do
            f=$large_tree/big$i.bin
            [[ $((i % 2)) -eq 1 ]] && f=$large_tree/sub/big$i.bin
            # AES-CTR keystream: fast, deterministic, non-zero.
            head -c "$((mib << 20))" /dev/zero |
                openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f \
                    -iv "$(printf '%032x' "$((i + 1))")" >"$f"
            i=$((i + 1))
        done
        touch "$large_tree/.complete"
        rm -f "$large_iso"
    fi
    [[ -f "$large_iso" ]] || mkiso "$large_iso" -m .complete "$large_tree"
fi

[[ "$GENERATE_ONLY" == 1 ]] && { log "images ready in $data"; exit 0; }

# --- 3. timings ---------------------------------------------------------------
q() { printf '%q' "$1"; }
prep() { # DIR [move] -> hyperfine --prepare command
    local p
    if [[ "${2:-}" == move ]]; then
        # Deleting 60,000 files right before a timed run slows the run that
        # follows (ext4 discards and journal work in the background): move
        # the old tree aside, delete it after the whole series, and let
        # write-back settle.
        p="mkdir -p $(q "$out/trash") && { mv $(q "$1") $(q "$out/trash")/\$\$-\$(date +%s%N) 2>/dev/null || true; } && mkdir $(q "$1") && sync && sleep 2"
    else
        p="rm -rf $(q "$1") && mkdir $(q "$1")"
        [[ "$PREPARE_SYNC" == 1 ]] && p="$p && sync"
    fi
    printf '%s' "$p"
}

# Each benchmark collects NAME<TAB>TOOL<TAB>COMMAND<TAB>PREPARE lines.
declare -a B_NAME B_CMD B_PREP
bench_reset() { B_NAME=(); B_CMD=(); B_PREP=(); }
bench_add() { # NAME TOOL COMMAND [PREPARE]
    if ! have "$2"; then
        printf '  %-22s skipped: tool missing (%s)\n' "$1" "$2" >&2
        return 0
    fi
    B_NAME+=("$1"); B_CMD+=("$3"); B_PREP+=("${4:-}")
}
rss_of() { # COMMAND [PREPARE] -> max RSS in KiB, from one extra run
    local cmd=$1 pre=${2:-} t
    [[ -n "$pre" ]] && bash -c "$pre"
    t=$(mktemp)
    if ! /usr/bin/time -v -o "$t" bash -c "exec $cmd" >/dev/null 2>&1; then
        rm -f "$t"; echo "failed"; return 0
    fi
    awk -F': ' '/Maximum resident set size/ {print $2}' "$t"
    rm -f "$t"
}
bench_run() { # GROUP
    local group=$1 i args=()
    [[ ${#B_NAME[@]} -gt 0 ]] || { printf '  %s: skipped: no tools\n' "$group" >&2; return 0; }
    log "$group"
    for i in "${!B_NAME[@]}"; do
        if [[ -n "${B_PREP[$i]}" ]]; then
            args+=(--prepare "${B_PREP[$i]}")
        else
            # hyperfine wants a prepare per command once any has one
            args+=(--prepare true)
        fi
        args+=(-n "${B_NAME[$i]}" "${B_CMD[$i]}")
    done
    hyperfine --warmup "$WARMUP" --runs "$RUNS" --export-json "$res/$group.json" \
        --style basic "${args[@]}" >&2
    if [[ -x /usr/bin/time ]]; then
        for i in "${!B_NAME[@]}"; do
            printf '%s\t%s\n' "${B_NAME[$i]}" "$(rss_of "${B_CMD[$i]}" "${B_PREP[$i]}")" \
                >>"$res/$group.rss"
        done
    fi
}

S=$(q "$small_iso")
L=$(q "$large_iso")
I=$(q "$ISOFORGE")
o() { q "$out/$1"; }

bench_reset
bench_add "isoforge ls -r"   "$ISOFORGE" "$I ls -r $S >/dev/null"
bench_add "isoforge ls -r -l" "$ISOFORGE" "$I ls -r -l $S >/dev/null"
bench_add "isoinfo -R -l"    isoinfo  "isoinfo -R -l -i $S >/dev/null"
bench_add "7z l"             7z       "7z l $S >/dev/null"
bench_add "bsdtar tf"        bsdtar   "bsdtar tf $S >/dev/null"
bench_add "xorriso lsdl"     xorriso  "xorriso -indev $S -find / -exec lsdl -- >/dev/null 2>&1"
bench_run small-list

if [[ "$SKIP_EXTRACT" != 1 ]]; then
# Small-file extraction is mostly file creation, and on a disk file system
# that has seen many deletions its time depends on the file system's history
# more than on the tool (ext4 skips recently freed inodes, discards and
# journals in the background). The default destination is a tmpfs, which
# measures what the tools themselves cost; `ext4` gives each run a fresh
# ext4 file system instead, `disk` the old trees' file system.
small_dest() { # NAME -> destination directory
    case $SMALL_EXTRACT_FS in
        tmpfs) printf '%s' "$shm/$1" ;;
        ext4) printf '%s' "$mnt/$1/x" ;;
        *) printf '%s' "$out/$1" ;;
    esac
}
small_prep() { # NAME -> hyperfine --prepare command
    case $SMALL_EXTRACT_FS in
        tmpfs) printf '%s' "rm -rf $(q "$shm/$1") && mkdir -p $(q "$shm/$1")" ;;
        ext4)
            local m=$mnt/$1 f=$mnt.$1.img
            printf '%s' "{ umount $(q "$m") 2>/dev/null || true; } && rm -f $(q "$f") && truncate -s 3G $(q "$f") && mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 $(q "$f") && mkdir -p $(q "$m") && mount -o loop $(q "$f") $(q "$m") && mkdir $(q "$m/x") && sync"
            ;;
        *) prep "$out/$1" move ;;
    esac
}
case $SMALL_EXTRACT_FS in
    tmpfs) shm=$(mktemp -d /dev/shm/isoforge-bench.XXXXXX) ;;
    ext4) mnt=$BENCH_DIR/mnt; mkdir -p "$mnt" ;;
    disk) ;;
    *) die "SMALL_EXTRACT_FS must be tmpfs, ext4 or disk" ;;
esac
small_cleanup() {
    case $SMALL_EXTRACT_FS in
        tmpfs) rm -rf "$shm" ;;
        ext4)
            for m in "$mnt"/*/; do umount "$m" 2>/dev/null || true; done
            rm -rf "$mnt" "$mnt".*.img
            ;;
        *) rm -rf "$out/trash" ;;
    esac
}
trap small_cleanup EXIT
log "small-file extraction to: $SMALL_EXTRACT_FS"
bench_reset
bench_add "isoforge extract" "$ISOFORGE" "$I extract $S -C $(q "$(small_dest isoforge)")" "$(small_prep isoforge)"
bench_add "bsdtar xf"        bsdtar  "bsdtar xf $S -C $(q "$(small_dest bsdtar)")" "$(small_prep bsdtar)"
bench_add "7z x"             7z      "7z x -y -o$(q "$(small_dest 7z)") $S >/dev/null" "$(small_prep 7z)"
bench_add "xorriso extract"  xorriso "xorriso -osirrox on -indev $S -extract / $(q "$(small_dest xorriso)") >/dev/null 2>&1" "$(small_prep xorriso)"
bench_run small-extract
small_cleanup
trap - EXIT

if [[ "$SKIP_LARGE" != 1 ]]; then
    bench_reset
    bench_add "isoforge extract" "$ISOFORGE" "$I extract $L -C $(o isoforge)" "$(prep "$out/isoforge")"
    bench_add "bsdtar xf"        bsdtar  "bsdtar xf $L -C $(o bsdtar)" "$(prep "$out/bsdtar")"
    bench_add "7z x"             7z      "7z x -y -o$(o 7z) $L >/dev/null" "$(prep "$out/7z")"
    bench_add "xorriso extract"  xorriso "xorriso -osirrox on -indev $L -extract / $(o xorriso) >/dev/null 2>&1" "$(prep "$out/xorriso")"
    bench_run large-extract
fi

# --- 4. memory as the image grows -----------------------------------------------
scale=$res/scale.tsv
: >"$scale"
if [[ -x /usr/bin/time ]]; then
    log "peak memory of isoforge as the image grows"
    imgs=("$small_iso")
    [[ "$SKIP_SCALE" != 1 ]] && imgs+=("$scale_iso")
    [[ "$SKIP_LARGE" != 1 ]] && imgs+=("$large_iso")
    for img in "${imgs[@]}"; do
        n=$("$ISOFORGE" ls -r "$img" | wc -l)
        sz=$(stat -c %s "$img")
        ls_rss=$(rss_of "$I ls -r $(q "$img") >/dev/null")
        ex_rss=$(rss_of "$I extract $(q "$img") -C $(o scale)" "$(prep "$out/scale")")
        printf '%s\t%s\t%s\t%s\t%s\n' "$(basename "$img")" "$n" "$sz" "$ls_rss" "$ex_rss" >>"$scale"
    done
    rm -rf "$out/scale"
else
    echo "memory: skipped: tool missing (/usr/bin/time)" >&2
fi

fi # SKIP_EXTRACT

rm -rf "$out"   # the extracted trees (several GB); data/ is kept

# --- 5. report -------------------------------------------------------------------
python3 - "$res" "$SMALL_EXTRACT_FS" <<'EOF'
import json, os, sys
res, small_fs = sys.argv[1], sys.argv[2]

def load(group):
    p = os.path.join(res, group + ".json")
    if not os.path.exists(p):
        return None
    rss = {}
    pr = os.path.join(res, group + ".rss")
    if os.path.exists(pr):
        for line in open(pr):
            k, v = line.rstrip("\n").split("\t")
            rss[k] = v
    return {r["command"]: (r["mean"], r["stddev"] or 0.0, rss.get(r["command"], "?"),
                           r.get("user", 0.0) + r.get("system", 0.0))
            for r in json.load(open(p))["results"]}

def mib(kib):
    try:
        return f"{int(kib) / 1024:.1f} MiB"
    except ValueError:
        return kib

groups = {}
for group, title, base in [
        ("small-list", "Listing, small-file image", "isoforge ls -r"),
        ("small-extract", f"Extraction, small-file image (to {small_fs})", "isoforge extract"),
        ("large-extract", "Extraction, large-file image", "isoforge extract")]:
    g = load(group)
    groups[group] = g
    if g is None:
        continue
    print(f"\n{title}")
    print(f"  {'command':<20} {'mean':>9} {'± sd':>8} {'ratio':>7} {'max RSS':>11}")
    b = g.get(base, (None,))[0]
    for name, (mean, sd, rss, _) in g.items():
        ratio = f"{mean / b:.2f}" if b else "-"
        print(f"  {name:<20} {mean:>8.3f}s {sd:>7.3f}s {ratio:>7} {mib(rss):>11}")
print("\n  ratio = peer time / isoforge time (> 1: isoforge is faster)")

scale = []
p = os.path.join(res, "scale.tsv")
if os.path.exists(p):
    scale = [l.rstrip("\n").split("\t") for l in open(p) if l.strip()]
if scale:
    print("\nisoforge peak memory as the image grows")
    print(f"  {'image':<16} {'entries':>8} {'size':>10} {'ls -r RSS':>11} {'extract RSS':>12}")
    for img, n, sz, lr, er in scale:
        print(f"  {img:<16} {n:>8} {int(sz) / 2**20:>6.0f} MiB {mib(lr):>11} {mib(er):>12}")

def ratio(group, peer, base):
    g = groups.get(group)
    if not g or peer not in g or base not in g:
        return None
    return g[peer][0] / g[base][0]

def flat(a, b):
    # flat: the bigger image needs at most 25% + 4 MiB more
    return int(b) <= int(a) * 1.25 + 4096

print("\nTargets")
rows = []
r = ratio("small-list", "isoinfo -R -l", "isoforge ls -r")
rows.append(("listing no slower than isoinfo (isoinfo/isoforge >= 1.0)",
             r, None if r is None else r >= 1.0))
r = ratio("small-list", "isoinfo -R -l", "isoforge ls -r -l")
rows.append(("long listing no slower than isoinfo -R -l (isoinfo/ls -r -l >= 1.0)",
             r, None if r is None else r >= 1.0))
r = ratio("small-extract", "bsdtar xf", "isoforge extract")
rows.append(("small-file extraction >= 1.5x faster than bsdtar",
             r, None if r is None else r >= 1.5))
r = ratio("large-extract", "bsdtar xf", "isoforge extract")
rows.append(("large-file extraction at least as fast as bsdtar (>= 1.0)",
             r, None if r is None else r >= 1.0))
ok = None
growth = ""
try:
    base = scale[0]
    ok = all(flat(base[3], s[3]) and flat(base[4], s[4]) for s in scale[1:]) \
        if len(scale) > 1 else None
    growth = ", ".join(f"{s[0]}: ls {mib(s[3])}, extract {mib(s[4])}" for s in scale)
except (IndexError, ValueError):
    ok = None
for text, r, good in rows:
    verdict = "skipped" if good is None else ("PASS" if good else "MISS")
    shown = "-" if r is None else f"{r:.2f}x"
    print(f"  {verdict:<7} {text}: {shown}")
verdict = "skipped" if ok is None else ("PASS" if ok else "MISS")
print(f"  {verdict:<7} peak memory flat as the image grows (<= +25% + 4 MiB): {growth}")
g = groups.get("small-list") or {}
if "isoinfo -R -l" in g and "isoforge ls -r -l" in g and g["isoforge ls -r -l"][3]:
    # On a loaded machine wall time includes waiting for a core.
    print("  CPU time (user + system), small-file listing: isoinfo -R -l %.3fs, "
          "isoforge ls -r -l %.3fs, ratio %.2f" % (
              g["isoinfo -R -l"][3], g["isoforge ls -r -l"][3],
              g["isoinfo -R -l"][3] / g["isoforge ls -r -l"][3]))
print("\n  warm page cache; timings on a shared machine are noisy")
EOF
