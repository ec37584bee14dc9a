#!/usr/bin/env bash
# bench/remote.sh: an image read in place over HTTP against downloading it
# first. nginx serves the image on loopback behind a proxy that delays
# every request by DELAY_MS (a stand-in for a distant mirror's round trip);
# `isoforge ls -r URL` and `isoforge cat URL FILE` are timed against
# `curl -o` of the whole image followed by the same command on the local
# copy.
#
# Usage: bench/remote.sh            (from anywhere in the repository)
#
# Environment:
#   ISOFORGE=path     isoforge binary (default: `cargo build --release`)
#   BENCH_DIR=dir     data and images (default /tmp/isoforge-bench-remote)
#   BIG_MIB=n         size of the large file in the image (default 512)
#   DELAY_MS=n        added delay per request (default 20)
#   RUNS=n            hyperfine runs per command (default 5)
set -euo pipefail

die() { printf 'remote.sh: %s\n' "$*" >&2; exit 2; }
have() { command -v "$1" >/dev/null 2>&1; }
log() { printf '\n== %s\n' "$*" >&2; }

export PATH="$PATH:/usr/sbin:/sbin"
repo=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/isoforge-bench-remote}
BIG_MIB=${BIG_MIB:-512}
DELAY_MS=${DELAY_MS:-20}
RUNS=${RUNS:-5}

have hyperfine || die "hyperfine is required"
have nginx || die "nginx is required"
have curl || die "curl is required"
have python3 || die "python3 is required (the delaying proxy)"

if [[ -z "${ISOFORGE:-}" ]]; then
    log "cargo build --release"
    (cd "$repo" && cargo build --release --quiet)
    ISOFORGE="${CARGO_TARGET_DIR:-$repo/target}/release/isoforge"
fi
[[ -x "$ISOFORGE" ]] || die "isoforge binary not found: $ISOFORGE"

mkdir -p "$BENCH_DIR"/{www,tree,tmp,out}
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
img=$BENCH_DIR/www/img.iso
if [[ ! -f "$img" ]]; then
    log "making an image with a ${BIG_MIB} MiB file and 2000 small ones"
    rm -rf "$BENCH_DIR/tree"
    mkdir -p "$BENCH_DIR/tree"
    python3 - "$BENCH_DIR/tree" <<'EOF'
import os, sys
root = sys.argv[1]
for d in range(20):
    os.makedirs(f"{root}/dir{d:02}", exist_ok=True)
    for f in range(100):
        with open(f"{root}/dir{d:02}/file{f:03}.txt", "w") as fh:
            fh.write(f"file {d} {f}\n" * (f + 1))
EOF
    head -c "$((BIG_MIB << 20))" /dev/urandom > "$BENCH_DIR/tree/big.bin"
    "$ISOFORGE" create -q -o "$img" "$BENCH_DIR/tree"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 500); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.01
    done
    die "nothing listens on port $1"
}

nginx_port=$(free_port)
cat > "$BENCH_DIR/nginx.conf" <<EOF
daemon off;
master_process off;
pid $BENCH_DIR/nginx.pid;
error_log $BENCH_DIR/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $BENCH_DIR/tmp;
  proxy_temp_path $BENCH_DIR/tmp;
  fastcgi_temp_path $BENCH_DIR/tmp;
  uwsgi_temp_path $BENCH_DIR/tmp;
  scgi_temp_path $BENCH_DIR/tmp;
  server { listen 127.0.0.1:$nginx_port; root $BENCH_DIR/www; }
}
EOF
nginx -p "$BENCH_DIR" -e "$BENCH_DIR/error.log" -c "$BENCH_DIR/nginx.conf" &
nginx_pid=$!

# The delaying proxy: each request waits DELAY_MS, then goes to nginx; the
# answer streams back.
proxy_port=$(free_port)
python3 - "$proxy_port" "$nginx_port" "$DELAY_MS" <<'EOF' &
import http.client, http.server, sys, time
port, upstream, delay = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) / 1000
class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        time.sleep(delay)
        c = http.client.HTTPConnection("127.0.0.1", upstream)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        c.request("GET", self.path, headers=headers)
        r = c.getresponse()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "transfer-encoding"):
                self.send_header(k, v)
        self.end_headers()
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            self.wfile.write(chunk)
        c.close()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Proxy).serve_forever()
EOF
proxy_pid=$!
trap 'kill $proxy_pid $nginx_pid 2>/dev/null || true' EXIT
wait_port "$nginx_port"
wait_port "$proxy_port"

url="http://127.0.0.1:$proxy_port/img.iso"
local_copy=$BENCH_DIR/out/img.iso
file=/dir07/file042.txt
size=$(stat -c %s "$img")

# The remote reads give what the local file gives.
cmp <("$ISOFORGE" ls -r "$url") <("$ISOFORGE" ls -r "$img") || die "ls -r differs"
cmp <("$ISOFORGE" cat "$url" "$file") <("$ISOFORGE" cat "$img" "$file") || die "cat differs"
cost=$("$ISOFORGE" -v ls -r "$url" 2>&1 >/dev/null | grep "requests")
log "ls -r over HTTP: ${cost#isoforge: }"

res=$BENCH_DIR/results.json
hyperfine --style none --runs "$RUNS" --warmup 1 --export-json "$res" \
    -n "isoforge ls -r URL" "$ISOFORGE ls -r $url" \
    -n "curl + isoforge ls -r" "curl -s -o $local_copy $url && $ISOFORGE ls -r $local_copy" \
    -n "isoforge cat URL FILE" "$ISOFORGE cat $url $file" \
    -n "curl + isoforge cat" "curl -s -o $local_copy $url && $ISOFORGE cat $local_copy $file" \
    >/dev/null

python3 - "$res" "$size" "$DELAY_MS" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
size, delay = int(sys.argv[2]), sys.argv[3]
print(f"\nImage of {size / 2**20:.0f} MiB behind nginx on loopback, {delay} ms added per request")
print(f"  {'command':26} {'mean':>9} {'± sd':>8}   ratio")
for a, b in [("isoforge ls -r URL", "curl + isoforge ls -r"),
             ("isoforge cat URL FILE", "curl + isoforge cat")]:
    ta = r[a]["mean"]
    for name in (a, b):
        x = r[name]
        print(f"  {name:26} {x['mean']:8.3f}s {x['stddev'] or 0:7.3f}s   {x['mean'] / ta:5.2f}")
print("\n  ratio = time / time of the in-place read (> 1: reading in place is faster)")
EOF
