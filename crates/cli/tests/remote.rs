//! Images read in place over HTTP(S) ranges and from an S3-compatible store,
//! against real servers started here on loopback: nginx, small servers
//! written below for the faults nginx cannot be made to show (a server that
//! ignores ranges, one that dies mid-transfer, one that never answers, one
//! whose image changes between requests), and moto's S3 server.
//!
//! Every reading command must print exactly what it prints for the local
//! file.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

/// Size of the large file that makes the image big next to its metadata.
const BIG: usize = 40 << 20;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (with a deadline) until something listens on `port`.
fn wait_listening(port: u16, child: &mut Child, what: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!("{what} exited early: {status}");
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} did not listen on port {port} within 60 s");
}

/// The tree of an image: the generated test tree, plus a large file when
/// `big` bytes are asked for.
fn make_image(dir: &Path, name: &str, big: usize) -> PathBuf {
    let src = dir.join(format!("{name}-src"));
    make_tree(&src, TreeSpec::FULL);
    if big > 0 {
        fs::write(src.join("big.bin"), bytes(99, big)).unwrap();
    }
    let img = dir.join(name);
    isoforge_ok(&[
        "create",
        "-q",
        "-o",
        img.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    img
}

// ---------------------------------------------------------------- nginx

/// nginx in the foreground on a free loopback port, serving `root`.
struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(root: &Path) -> Option<Nginx> {
        if !have_tool("nginx") {
            return None;
        }
        for _ in 0..5 {
            let dir = tempdir();
            let port = free_port();
            fs::create_dir_all(dir.path().join("tmp")).unwrap();
            fs::write(dir.path().join("htpasswd"), "alice:{PLAIN}wonderland\n").unwrap();
            let d = dir.path().display();
            let conf = format!(
                r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/tmp;
  proxy_temp_path {d}/tmp;
  fastcgi_temp_path {d}/tmp;
  uwsgi_temp_path {d}/tmp;
  scgi_temp_path {d}/tmp;
  default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location = /moved.iso {{ return 302 /img.iso; }}
    location = /loop.iso {{ return 302 /loop.iso; }}
    location /forbidden/ {{ deny all; }}
    location /token/ {{
      if ($http_authorization != "Bearer right-token") {{ return 401; }}
    }}
    location /basic/ {{
      auth_basic "isoforge";
      auth_basic_user_file {d}/htpasswd;
    }}
  }}
}}
"#,
                root = root.display()
            );
            let conf_path = dir.path().join("nginx.conf");
            fs::write(&conf_path, conf).unwrap();
            let mut child = tool("nginx")
                .arg("-p")
                .arg(dir.path())
                .arg("-e")
                .arg(dir.path().join("error.log"))
                .arg("-c")
                .arg(&conf_path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            if wait_listening(port, &mut child, "nginx") {
                return Some(Nginx {
                    child,
                    port,
                    _dir: dir,
                });
            }
            // The port was taken in between: another one.
            let _ = child.wait();
        }
        panic!("nginx would not start");
    }
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// --------------------------------------------------- small test servers

/// What a test server does with a request.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Answers every GET with the whole object (`200`), ranges or not.
    IgnoreRanges,
    /// Serves ranges of the first object for one request, then of the
    /// second, under another ETag (and ignoring `If-Match`, so the client
    /// must see the change itself).
    Replaced,
    /// Serves ranges until `limit` body bytes went out, then breaks the
    /// transfer and stops listening.
    DiesAfter(u64),
    /// Reads the request and never answers.
    Silent,
}

struct TestServer {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn read_request(s: &mut TcpStream) -> Option<BTreeMap<String, String>> {
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    if line.is_empty() {
        return None;
    }
    let mut h = BTreeMap::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).ok()? == 0 {
            return None;
        }
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            h.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    Some(h)
}

fn range_of(h: &BTreeMap<String, String>, len: u64) -> Option<(u64, u64)> {
    let r = h.get("range")?.strip_prefix("bytes=")?;
    let (a, b) = r.split_once('-')?;
    let a: u64 = a.parse().ok()?;
    let b: u64 = b.parse::<u64>().ok()?.min(len - 1);
    Some((a, b))
}

fn serve_range(
    s: &mut TcpStream,
    data: &[u8],
    etag: &str,
    h: &BTreeMap<String, String>,
    cut: Option<u64>,
) {
    let len = data.len() as u64;
    let Some((a, b)) = range_of(h, len) else {
        let _ = write!(
            s,
            "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return;
    };
    let _ = write!(
        s,
        "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {a}-{b}/{len}\r\nContent-Length: {}\r\nETag: {etag}\r\nConnection: close\r\n\r\n",
        b - a + 1
    );
    let body = &data[a as usize..=b as usize];
    let body = match cut {
        Some(n) => &body[..(n as usize).min(body.len())],
        None => body,
    };
    let _ = s.write_all(body);
}

fn test_server(behaviour: Behaviour, first: Vec<u8>, second: Vec<u8>) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    std::thread::spawn(move || {
        let served = AtomicU64::new(0);
        let mut requests = 0u64;
        let mut held = Vec::new();
        for s in listener.incoming() {
            if stop2.load(Ordering::SeqCst) {
                break;
            }
            let Ok(mut s) = s else { continue };
            let Some(h) = read_request(&mut s) else {
                continue;
            };
            requests += 1;
            match behaviour {
                Behaviour::IgnoreRanges => {
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        first.len()
                    );
                    let _ = s.write_all(&first);
                }
                Behaviour::Replaced => {
                    if requests == 1 {
                        serve_range(&mut s, &first, "\"first\"", &h, None);
                    } else {
                        serve_range(&mut s, &second, "\"second\"", &h, None);
                    }
                }
                Behaviour::DiesAfter(limit) => {
                    let len = range_of(&h, first.len() as u64).map_or(0, |(a, b)| b - a + 1);
                    let before = served.fetch_add(len, Ordering::SeqCst);
                    if before + len > limit {
                        // Half the body, then the server is gone.
                        serve_range(&mut s, &first, "\"x\"", &h, Some(len / 2));
                        break;
                    }
                    serve_range(&mut s, &first, "\"x\"", &h, None);
                }
                Behaviour::Silent => held.push(s),
            }
        }
    });
    TestServer { port, stop }
}

impl TestServer {
    fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }
}

// ---------------------------------------------------------------- checks

/// Runs isoforge with `envs` set.
fn isoforge_env(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin());
    c.args(args).env_remove("ISOFORGE_HTTP_TOKEN");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(o: Output, what: &str) -> Output {
    assert!(
        o.status.success(),
        "{what} failed ({}):\n{}",
        o.status,
        stderr(&o)
    );
    o
}

/// `info --json` without the one field that names the image as given.
fn info_json(target: &str, envs: &[(&str, &str)]) -> serde_json::Value {
    let out = ok(isoforge_env(&["info", "--json", target], envs), "info");
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_object_mut().unwrap().remove("image");
    v
}

/// `checksum` lines without the names.
fn sums(target: &str, envs: &[(&str, &str)]) -> Vec<String> {
    let out = ok(
        isoforge_env(&["checksum", "--algo", "sha256,md5", target], envs),
        "checksum",
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

/// Every reading command gives the same output for `url` as for the local
/// `img`; `ls -r` of the tree costs under 2% of the image.
fn same_as_local(img: &Path, url: &str, envs: &[(&str, &str)], what: &str) {
    let local = img.to_str().unwrap();
    let dir = tempdir();
    assert_eq!(
        info_json(url, envs),
        info_json(local, envs),
        "{what}: info --json"
    );
    for args in [
        vec!["ls", "-r", "-l", "--json"],
        vec!["ls", "-r", "-l"],
        vec!["cat"],
    ] {
        let mut a = args.clone();
        let extra: &[&str] = if args[0] == "cat" {
            &["/sizes/s70001.bin"]
        } else {
            &[]
        };
        a.push(local);
        a.extend(extra);
        let want = ok(isoforge_env(&a, envs), "local").stdout;
        let mut a = args.clone();
        a.push(url);
        a.extend(extra);
        let got = ok(isoforge_env(&a, envs), what).stdout;
        assert!(
            got == want,
            "{what}: {args:?} differs from the local file's"
        );
    }
    assert_eq!(sums(url, envs), sums(local, envs), "{what}: checksum");

    // Extraction of one path and of everything.
    for (name, paths) in [("one", vec!["/sizes/s70001.bin"]), ("all", vec![])] {
        let l = dir.path().join(format!("{name}-local"));
        let r = dir.path().join(format!("{name}-remote"));
        for (target, dest) in [(local, &l), (url, &r)] {
            let mut a = vec!["extract", target, "-C", dest.to_str().unwrap()];
            a.extend(paths.iter().copied());
            ok(isoforge_env(&a, envs), what);
        }
        // A directory made on the way to one path is dated when it is made.
        let c = Compare {
            dir_mtime: paths.is_empty(),
            ..Compare::ALL
        };
        assert_same(
            &format!("{what}: extract {name}"),
            &snapshot(&l),
            &snapshot(&r),
            c,
        );
    }

    // Cost of listing the tree.
    let out = ok(isoforge_env(&["-v", "ls", "-r", url], envs), what);
    let (requests, fetched, size) = remote_cost(&stderr(&out), url);
    eprintln!(
        "{what}: ls -r took {requests} requests, {fetched} bytes of {size} ({:.2}%)",
        fetched as f64 * 100.0 / size as f64
    );
    assert_eq!(size, fs::metadata(img).unwrap().len());
    assert!(
        fetched * 50 < size,
        "{what}: ls -r fetched {fetched} of {size} bytes"
    );
}

/// The `-v` line: requests, bytes fetched, object size.
fn remote_cost(stderr: &str, url: &str) -> (u64, u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&format!("isoforge: {url}: ")))
        .unwrap_or_else(|| panic!("no request count in {stderr:?}"));
    let nums: Vec<u64> = line
        .rsplit(": ")
        .next()
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (nums[0], nums[1], nums[2])
}

/// Runs isoforge expecting exit 2 and a message containing `want`.
fn fails_with(args: &[&str], envs: &[(&str, &str)], want: &str) -> String {
    let o = isoforge_env(args, envs);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
    assert!(e.contains(want), "{args:?}: expected {want:?} in {e:?}");
    assert!(!e.contains("panicked"), "{e}");
    assert_eq!(e.lines().count(), 1, "one plain line: {e:?}");
    e
}

// ----------------------------------------------------------------- tests

#[test]
fn nginx_serves_the_same_image_as_the_local_file() {
    let dir = tempdir();
    let root = dir.path().join("www");
    fs::create_dir_all(&root).unwrap();
    let img = make_image(&root, "img.iso", BIG);
    let Some(ng) = Nginx::start(&root) else {
        return;
    };
    same_as_local(&img, &ng.url("/img.iso"), &[], "nginx");

    // A redirect (as mirrors do) is followed.
    assert_eq!(
        info_json(&ng.url("/moved.iso"), &[]),
        info_json(img.to_str().unwrap(), &[])
    );
    // verify, diff and modify read the remote image too.
    let local_sums = sums(img.to_str().unwrap(), &[]);
    ok(
        isoforge_env(
            &["verify", &ng.url("/img.iso"), "--sha256", &local_sums[0]],
            &[],
        ),
        "verify",
    );
    ok(
        isoforge_env(&["diff", img.to_str().unwrap(), &ng.url("/img.iso")], &[]),
        "diff",
    );
    let (a, b) = (dir.path().join("a.iso"), dir.path().join("b.iso"));
    for (src, out) in [
        (img.to_str().unwrap().to_string(), &a),
        (ng.url("/img.iso"), &b),
    ] {
        ok(
            isoforge_env(
                &[
                    "modify",
                    &src,
                    "-o",
                    out.to_str().unwrap(),
                    "--mkdir",
                    "/new",
                    "--reproducible",
                ],
                &[("SOURCE_DATE_EPOCH", "1700000000")],
            ),
            "modify",
        );
    }
    assert!(
        fs::read(&a).unwrap() == fs::read(&b).unwrap(),
        "modify of the remote image differs"
    );
}

#[test]
fn nginx_faults_have_plain_messages() {
    let dir = tempdir();
    let root = dir.path().join("www");
    for d in ["forbidden", "token", "basic"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    let img = make_image(&root, "img.iso", 0);
    for d in ["forbidden", "token", "basic"] {
        fs::copy(&img, root.join(d).join("img.iso")).unwrap();
    }
    let Some(ng) = Nginx::start(&root) else {
        return;
    };
    fails_with(
        &["info", &ng.url("/missing.iso")],
        &[],
        "not found on the server (HTTP 404)",
    );
    fails_with(
        &["ls", &ng.url("/forbidden/img.iso")],
        &[],
        "access denied (HTTP 403)",
    );
    fails_with(
        &["cat", &ng.url("/loop.iso"), "/a.txt"],
        &[],
        "more than 10 redirects",
    );

    // A bearer token: missing or wrong is refused, right is read.
    let url = ng.url("/token/img.iso");
    fails_with(&["info", &url], &[], "HTTP 401");
    fails_with(
        &["info", &url],
        &[("ISOFORGE_HTTP_TOKEN", "wrong")],
        "refused the ones given (HTTP 401)",
    );
    let out = ok(
        isoforge_env(
            &["cat", &url, "/a.txt"],
            &[("ISOFORGE_HTTP_TOKEN", "right-token")],
        ),
        "token",
    );
    assert_eq!(out.stdout, b"hello\n");

    // .netrc: wrong password refused, right one read.
    let netrc = dir.path().join("netrc");
    let url = ng.url("/basic/img.iso");
    fs::write(&netrc, "machine 127.0.0.1 login alice password wrong\n").unwrap();
    let n = netrc.to_str().unwrap();
    fails_with(&["ls", &url], &[("NETRC", n)], "HTTP 401");
    fs::write(
        &netrc,
        "machine 127.0.0.1 login alice password wonderland\n",
    )
    .unwrap();
    let out = ok(
        isoforge_env(&["cat", &url, "/a.txt"], &[("NETRC", n)]),
        "netrc",
    );
    assert_eq!(out.stdout, b"hello\n");
}

#[test]
fn an_image_replaced_on_nginx_is_detected_by_its_validator() {
    let dir = tempdir();
    let root = dir.path().join("www");
    fs::create_dir_all(&root).unwrap();
    let img = make_image(&root, "img.iso", 4 << 20);
    let other = make_image(dir.path(), "other.iso", 5 << 20);
    let Some(ng) = Nginx::start(&root) else {
        return;
    };
    let opts = isoforge::source::RemoteOptions::default();
    let src = isoforge::source::RemoteSource::open(&ng.url("/img.iso"), &opts).unwrap();
    // Replaced under the same name, as a mirror's sync would.
    let tmp = root.join(".img.iso.new");
    fs::copy(&other, &tmp).unwrap();
    touch(&tmp, 1_800_000_000);
    fs::rename(&tmp, &img).unwrap();
    let mut buf = vec![0u8; 4096];
    let e = isoforge::ReadAt::read_exact_at(&src, 3 << 20, &mut buf).unwrap_err();
    let r = isoforge::source::remote_error(&e).unwrap();
    assert!(
        matches!(r, isoforge::source::RemoteError::Changed { .. }),
        "{r}"
    );
    assert!(r.to_string().contains("changed on the server"), "{r}");
}

#[test]
fn a_server_that_ignores_ranges_is_refused() {
    let dir = tempdir();
    let img = make_image(dir.path(), "img.iso", 0);
    let s = test_server(Behaviour::IgnoreRanges, fs::read(&img).unwrap(), Vec::new());
    fails_with(
        &["ls", &s.url("img.iso")],
        &[],
        "the server ignores byte ranges",
    );
}

#[test]
fn an_image_replaced_between_requests_is_not_mixed() {
    let dir = tempdir();
    let a = make_image(dir.path(), "a.iso", 1 << 20);
    let b = make_image(dir.path(), "b.iso", 1 << 20);
    let s = test_server(
        Behaviour::Replaced,
        fs::read(&a).unwrap(),
        fs::read(&b).unwrap(),
    );
    fails_with(
        &["cat", &s.url("a.iso"), "/big.bin"],
        &[],
        "the image changed on the server while it was being read (ETag \"first\" became \"second\")",
    );
}

#[test]
fn a_server_that_stops_mid_extract_leaves_no_half_written_file() {
    let dir = tempdir();
    let img = make_image(dir.path(), "img.iso", 8 << 20);
    let s = test_server(
        Behaviour::DiesAfter(4 << 20),
        fs::read(&img).unwrap(),
        Vec::new(),
    );
    // A destination that exists stays, with what was finished in it.
    let dest = dir.path().join("out");
    fs::create_dir(&dest).unwrap();
    let e = fails_with(
        &[
            "extract",
            &s.url("img.iso"),
            "-C",
            dest.to_str().unwrap(),
            "--retries",
            "1",
        ],
        &[],
        "connection",
    );
    assert!(e.contains(&s.url("img.iso")), "{e}");
    // Whatever was written is whole: each file is the image's, and no
    // temporary file is left.
    let full = dir.path().join("full");
    ok(
        isoforge_env(
            &[
                "extract",
                img.to_str().unwrap(),
                "-C",
                full.to_str().unwrap(),
            ],
            &[],
        ),
        "local extract",
    );
    let want = snapshot(&full);
    let got = snapshot(&dest);
    for (p, n) in &got {
        let w = want
            .get(p)
            .unwrap_or_else(|| panic!("{p} is not in the image"));
        if n.kind == 'f' {
            assert_eq!(
                (n.size, n.digest),
                (w.size, w.digest),
                "{p} is half written"
            );
        }
    }
}

#[test]
fn a_server_that_never_answers_times_out() {
    let s = test_server(Behaviour::Silent, Vec::new(), Vec::new());
    fails_with(
        &["info", &s.url("img.iso"), "--timeout", "1"],
        &[],
        "no answer within 1 s (timed out); --timeout sets the limit",
    );
}

// ------------------------------------------------------------------- S3

/// moto's S3 server on a free loopback port, with a bucket holding `images`
/// (key, file), an IAM user allowed to read it, and authentication on.
#[cfg(feature = "s3")]
struct Moto {
    child: Child,
    port: u16,
    key_id: String,
    secret: String,
}

#[cfg(feature = "s3")]
impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(feature = "s3")]
const MOTO_SETUP: &str = r#"
import sys, urllib.request, boto3
endpoint = sys.argv[1]
kw = dict(endpoint_url=endpoint, region_name="us-east-1",
          aws_access_key_id="setup", aws_secret_access_key="setup")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="reader")
iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}')
key = iam.create_access_key(UserName="reader")["AccessKey"]
s3 = boto3.client("s3", **kw)
s3.create_bucket(Bucket="images")
for pair in sys.argv[2:]:
    name, path = pair.split("=", 1)
    with open(path, "rb") as f:
        s3.put_object(Bucket="images", Key=name, Body=f.read())
# From here on every request must be signed by a known key.
urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset-auth", data=b"0",
    method="POST", headers={"Content-Type": "text/plain"}))
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;

#[cfg(feature = "s3")]
impl Moto {
    fn start(images: &[(&str, &Path)]) -> Option<Moto> {
        if !have_tool("moto_server") {
            return None;
        }
        let which = run(tool("sh").args(["-c", "command -v moto_server"])).stdout;
        let bin_dir = PathBuf::from(String::from_utf8(which).unwrap().trim())
            .parent()
            .unwrap()
            .to_path_buf();
        for _ in 0..5 {
            let port = free_port();
            let mut child = tool("moto_server")
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            if !wait_listening(port, &mut child, "moto_server") {
                let _ = child.wait();
                continue;
            }
            let endpoint = format!("http://127.0.0.1:{port}");
            let mut setup = Command::new(bin_dir.join("python3"));
            setup.arg("-c").arg(MOTO_SETUP).arg(&endpoint);
            for (k, p) in images {
                setup.arg(format!("{k}={}", p.display()));
            }
            let out = run(&mut setup);
            let text = String::from_utf8(out.stdout).unwrap();
            let mut words = text.split_whitespace();
            let key_id = words.next().unwrap().to_string();
            let secret = words.next().unwrap().to_string();
            return Some(Moto {
                child,
                port,
                key_id,
                secret,
            });
        }
        panic!("moto_server would not start");
    }
    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID".into(), self.key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), self.secret.clone()),
            ("AWS_REGION".into(), "us-east-1".into()),
            (
                "AWS_ENDPOINT_URL".into(),
                format!("http://127.0.0.1:{}", self.port),
            ),
        ]
    }
}

#[cfg(feature = "s3")]
fn env_refs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

#[cfg(feature = "s3")]
#[test]
fn s3_serves_the_same_image_as_the_local_file() {
    let dir = tempdir();
    let img = make_image(dir.path(), "img.iso", BIG);
    let Some(moto) = Moto::start(&[("dir/img.iso", &img)]) else {
        return;
    };
    let env = moto.env();
    same_as_local(&img, "s3://images/dir/img.iso", &env_refs(&env), "s3");

    // The endpoint as an option instead of AWS_ENDPOINT_URL.
    let mut no_ep: Vec<(String, String)> = env.clone();
    no_ep.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    let ep = format!("http://127.0.0.1:{}", moto.port);
    let out = ok(
        isoforge_env(
            &[
                "cat",
                "s3://images/dir/img.iso",
                "/a.txt",
                "--s3-endpoint",
                &ep,
            ],
            &env_refs(&no_ep),
        ),
        "s3 --s3-endpoint",
    );
    assert_eq!(out.stdout, b"hello\n");
}

#[cfg(feature = "s3")]
#[test]
fn s3_faults_have_plain_messages() {
    let dir = tempdir();
    let img = make_image(dir.path(), "img.iso", 0);
    let Some(moto) = Moto::start(&[("img.iso", &img)]) else {
        return;
    };
    let env = moto.env();
    let e = env_refs(&env);
    fails_with(
        &["info", "s3://images/missing.iso"],
        &e,
        "not found on the server",
    );
    fails_with(
        &["info", "s3://nobucket/img.iso"],
        &e,
        "not found on the server",
    );
    let mut wrong = env.clone();
    wrong[1].1 = "not-the-secret".into();
    fails_with(
        &["ls", "s3://images/img.iso"],
        &env_refs(&wrong),
        "the credentials were refused",
    );
    let mut unknown = env.clone();
    unknown[0].1 = "AKIAUNKNOWNKEY000000".into();
    fails_with(
        &["ls", "s3://images/img.iso"],
        &env_refs(&unknown),
        "the credentials were refused",
    );
}

// ---------------------------------------------------------------- mount

/// Unmounts a FUSE mount point when dropped, whatever the test did.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("fusermount3")
            .arg("-u")
            .arg(&self.0)
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn an_image_on_nginx_mounts_like_the_local_file() {
    if !(have_file("/dev/fuse") && have("fusermount3")) {
        return;
    }
    let dir = tempdir();
    let root = dir.path().join("www");
    fs::create_dir_all(&root).unwrap();
    let img = make_image(&root, "img.iso", BIG);
    let Some(ng) = Nginx::start(&root) else {
        return;
    };
    let local = dir.path().join("local");
    isoforge_ok(&[
        "extract",
        img.to_str().unwrap(),
        "-C",
        local.to_str().unwrap(),
    ]);
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let _guard = Unmount(mnt.clone());
    // The command returns once the mount is ready.
    ok(
        isoforge_env(&["mount", &ng.url("/img.iso"), mnt.to_str().unwrap()], &[]),
        "mount",
    );
    let (want, got) = (snapshot(&local), snapshot(&mnt));
    assert!(want.len() > 3 && want.contains_key("/big.bin"), "{want:?}");
    // Extraction gives directories the time of the extraction.
    let files = Compare {
        dir_mtime: false,
        ..Compare::ALL
    };
    assert_same("nginx-served image, mounted", &want, &got, files);
    // And the bytes are the source tree's, judged without our reader.
    let content = Compare {
        mode: false,
        mtime: false,
        dir_mtime: false,
        content: true,
    };
    let src = snapshot(&root.join("img.iso-src"));
    assert_same("source tree against the mount", &src, &got, content);
    ok(
        Command::new("fusermount3")
            .arg("-u")
            .arg(&mnt)
            .output()
            .unwrap(),
        "fusermount3 -u",
    );
}
