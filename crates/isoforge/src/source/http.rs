//! HTTP(S) byte ranges (RFC 9110 §14): `Range: bytes=a-b` answered by
//! `206 Partial Content` with a `Content-Range` that must name exactly the
//! bytes asked for and the total length first seen.
//!
//! The first request pins the object: its length, `ETag` and
//! `Last-Modified`. Every later request sends them back as preconditions
//! (`If-Match` / `If-Unmodified-Since`, and `If-Range`), and every answer is
//! checked against them, so an image replaced on the server while it is
//! read is an error, never a mix of two images. A `200` to a range request
//! means the server does not do ranges (or the validator no longer
//! matched): its body is not read.

use std::io::Read;
use std::time::Duration;

use ureq::http::{HeaderMap, Uri};

use super::remote::{RemoteError, RemoteOptions, Stats};

/// The validators of the object as first seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Validator {
    etag: Option<String>,
    last_modified: Option<String>,
}

impl Validator {
    fn from_headers(h: &HeaderMap) -> Validator {
        Validator {
            etag: header(h, "etag"),
            last_modified: header(h, "last-modified"),
        }
    }
    /// A strong ETag (RFC 9110 §8.8.3): the only kind `If-Match` and
    /// `If-Range` compare.
    fn strong_etag(&self) -> Option<&str> {
        self.etag.as_deref().filter(|e| !e.starts_with("W/"))
    }
    /// What differs between the pinned validator and an answer's, if any.
    fn mismatch(&self, now: &Validator) -> Option<String> {
        match (&self.etag, &now.etag) {
            (Some(a), Some(b)) if a != b => return Some(format!("ETag {a} became {b}")),
            _ => {}
        }
        match (&self.last_modified, &now.last_modified) {
            (Some(a), Some(b)) if a != b => Some(format!("Last-Modified {a} became {b}")),
            _ => None,
        }
    }
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
}

/// `Content-Range: bytes a-b/total` (RFC 9110 §14.4); the total may be `*`.
fn content_range(h: &HeaderMap) -> Option<(u64, u64, Option<u64>)> {
    let v = header(h, "content-range")?;
    let rest = v.strip_prefix("bytes ")?.trim();
    let (span, total) = rest.split_once('/')?;
    let (a, b) = span.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?, total))
}

/// Standard base64 (RFC 4648 §4), for `Authorization: Basic`.
fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let b = [
            c.first().copied().unwrap_or(0),
            c.get(1).copied().unwrap_or(0),
            c.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                let idx = usize::try_from((n >> shift) & 63).unwrap_or(0);
                out.push(char::from(T.get(idx).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `location` resolved against `base` (RFC 3986 §5.2, the cases servers use).
fn resolve(base: &Uri, location: &str) -> Option<String> {
    let lower = location.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Some(location.to_string());
    }
    let scheme = base.scheme_str()?;
    if let Some(rest) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{rest}"));
    }
    let authority = base.authority()?.as_str();
    if location.starts_with('/') {
        return Some(format!("{scheme}://{authority}{location}"));
    }
    let path = base.path();
    let dir = path.rfind('/').and_then(|i| path.get(..=i)).unwrap_or("/");
    Some(format!("{scheme}://{authority}{dir}{location}"))
}

fn parse_uri(url: &str) -> Result<Uri, RemoteError> {
    let uri: Uri = url.parse().map_err(|e| RemoteError::Location {
        url: url.into(),
        detail: format!("not a usable URL ({e})"),
    })?;
    if uri.host().is_none() {
        return Err(RemoteError::Location {
            url: url.into(),
            detail: "the URL names no host".into(),
        });
    }
    Ok(uri)
}

/// The error for a status that is not an answer to a range request.
fn status_error(url: &str, status: u16, attempts: u32) -> RemoteError {
    let url = url.to_string();
    match status {
        404 | 410 => RemoteError::NotFound { url },
        403 => RemoteError::Forbidden { url },
        401 | 407 => RemoteError::Unauthorized { url },
        500..=599 => RemoteError::Server {
            url,
            status,
            attempts,
        },
        _ => RemoteError::Protocol {
            url,
            detail: format!("unexpected answer HTTP {status} to a range request"),
        },
    }
}

/// One object over HTTP(S).
pub(crate) struct HttpFetch {
    agent: ureq::Agent,
    /// The URL as given (its host receives the bearer token).
    given: Uri,
    /// Where the first request's redirects ended: later requests go there.
    url: String,
    size: u64,
    validator: Validator,
    opts: RemoteOptions,
}

/// One answer, after the redirects.
struct Answer {
    resp: ureq::http::Response<ureq::Body>,
    url: String,
}

impl HttpFetch {
    /// Opens `url` with a first request for bytes `0..first_len`: the
    /// fetcher, the object's length and those bytes.
    pub(crate) fn open(
        url: &str,
        opts: &RemoteOptions,
        first_len: u64,
        stats: &Stats,
    ) -> Result<(HttpFetch, u64, Vec<u8>), RemoteError> {
        let given = parse_uri(url)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Redirects are followed here: each hop is checked and counted,
            // and credentials go only where they may.
            .max_redirects(0)
            .timeout_connect(Some(opts.timeout))
            // A body stalls no longer than an answer may take to start; a
            // large one that keeps flowing is not cut off.
            .timeout_per_read(Some(opts.timeout))
            .timeout_recv_response(Some(opts.timeout))
            .timeout_send_request(Some(opts.timeout))
            .user_agent(concat!("isoforge/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let mut f = HttpFetch {
            agent,
            given,
            url: url.to_string(),
            size: 0,
            validator: Validator::default(),
            opts: opts.clone(),
        };
        let first_len = first_len.max(1);
        let (answer, first) = f.with_retries(|| {
            let mut a = f.get(0, first_len - 1, false, stats)?;
            let status = a.resp.status().as_u16();
            match status {
                206 => {}
                200 => return Err(RemoteError::RangesIgnored { url: a.url }),
                416 => {
                    return Err(RemoteError::Protocol {
                        url: a.url,
                        detail: "the object is empty".into(),
                    })
                }
                s => return Err(status_error(&a.url, s, 1)),
            }
            let (start, end, total) =
                content_range(a.resp.headers()).ok_or_else(|| RemoteError::Protocol {
                    url: a.url.clone(),
                    detail: "a range answer without a usable Content-Range".into(),
                })?;
            let total = total.ok_or_else(|| RemoteError::Protocol {
                url: a.url.clone(),
                detail: "the server does not say how long the object is (Content-Range total *)"
                    .into(),
            })?;
            let want_end = first_len.min(total).saturating_sub(1);
            if start != 0 || end != want_end {
                return Err(RemoteError::Protocol {
                    url: a.url.clone(),
                    detail: format!(
                        "asked for bytes 0-{} of {total}, the server sent {start}-{end}",
                        want_end
                    ),
                });
            }
            let mut buf = vec![0u8; usize::try_from(end + 1).unwrap_or(0)];
            read_body(&mut a, &mut buf, stats)?;
            Ok((a, (buf, total)))
        })?;
        let (first, total) = first;
        f.size = total;
        f.validator = Validator::from_headers(answer.resp.headers());
        f.url = answer.url;
        Ok((f, total, first))
    }

    /// Runs `attempt` up to 1 + retries times while it fails transiently,
    /// pausing twice as long each time.
    fn with_retries<T>(
        &self,
        mut attempt: impl FnMut() -> Result<(Answer, T), RemoteError>,
    ) -> Result<(Answer, T), RemoteError> {
        let mut pause = self.opts.backoff;
        let mut n = 0u32;
        loop {
            n += 1;
            match attempt() {
                Err(e) if e.is_transient() && n <= self.opts.retries => {
                    std::thread::sleep(pause);
                    pause = pause.saturating_mul(2).min(Duration::from_secs(10));
                }
                Err(RemoteError::Server { url, status, .. }) => {
                    return Err(RemoteError::Server {
                        url,
                        status,
                        attempts: n,
                    })
                }
                other => return other,
            }
        }
    }

    /// The `Authorization` header for a request to `uri`, if any: the
    /// bearer token only to the host named in the URL; `.netrc`
    /// credentials over HTTPS, or over plain HTTP to that host only.
    fn authorization(&self, uri: &Uri) -> Option<String> {
        let host = uri.host()?;
        // Same origin: scheme too, so a redirect from https to http on the
        // same host does not carry the credentials in the clear.
        let same_host = self
            .given
            .host()
            .is_some_and(|h| h.eq_ignore_ascii_case(host))
            && self.given.port_u16() == uri.port_u16()
            && self.given.scheme() == uri.scheme();
        if let Some(t) = &self.opts.bearer_token {
            return same_host.then(|| format!("Bearer {t}"));
        }
        let https = uri
            .scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("https"));
        if !https && !same_host {
            return None;
        }
        let c = self.opts.netrc.as_ref()?.lookup(host)?;
        Some(format!(
            "Basic {}",
            base64(format!("{}:{}", c.login, c.password).as_bytes())
        ))
    }

    /// One range GET of bytes `start..=end`, following redirects.
    fn get(
        &self,
        start: u64,
        end: u64,
        pinned: bool,
        stats: &Stats,
    ) -> Result<Answer, RemoteError> {
        let mut url = self.url.clone();
        let mut hops = 0u32;
        loop {
            let uri = parse_uri(&url)?;
            let mut req = self
                .agent
                .get(&url)
                .header("Range", format!("bytes={start}-{end}"))
                // Offsets are of the stored bytes: no content coding.
                .header("Accept-Encoding", "identity");
            if pinned {
                let v = &self.validator;
                if let Some(e) = v.strong_etag() {
                    req = req.header("If-Match", e).header("If-Range", e);
                } else if let Some(lm) = &v.last_modified {
                    req = req
                        .header("If-Unmodified-Since", lm.as_str())
                        .header("If-Range", lm.as_str());
                }
            }
            if let Some(a) = self.authorization(&uri) {
                req = req.header("Authorization", a);
            }
            stats.request();
            let resp = req
                .call()
                .map_err(|e| transport_error(&url, e, self.opts.timeout))?;
            let status = resp.status().as_u16();
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                let Some(loc) = header(resp.headers(), "location") else {
                    return Err(RemoteError::Protocol {
                        url,
                        detail: format!("redirect (HTTP {status}) without a Location"),
                    });
                };
                hops += 1;
                if hops > self.opts.max_redirects {
                    return Err(RemoteError::TooManyRedirects {
                        url: self.url.clone(),
                        limit: self.opts.max_redirects,
                    });
                }
                url = resolve(&uri, &loc).ok_or_else(|| RemoteError::Protocol {
                    url: url.clone(),
                    detail: format!("redirect to an unusable location {loc:?}"),
                })?;
                if !super::remote::is_remote(&url) || url.to_ascii_lowercase().starts_with("s3:") {
                    return Err(RemoteError::Protocol {
                        url,
                        detail: "redirect to something other than http(s)".into(),
                    });
                }
                continue;
            }
            return Ok(Answer { resp, url });
        }
    }
}

/// Reads exactly `buf.len()` body bytes, and checks that no more follow.
fn read_body(a: &mut Answer, buf: &mut [u8], stats: &Stats) -> Result<(), RemoteError> {
    let mut reader = a.resp.body_mut().as_reader();
    let mut got = 0usize;
    while got < buf.len() {
        let dst = buf.get_mut(got..).unwrap_or_default();
        match reader.read(dst) {
            Ok(0) => break,
            Ok(n) => {
                got += n;
                stats.received(n as u64);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(RemoteError::Connection {
                    url: a.url.clone(),
                    detail: format!("the transfer broke after {got} of {} bytes: {e}", buf.len()),
                })
            }
        }
    }
    if got < buf.len() {
        return Err(RemoteError::Connection {
            url: a.url.clone(),
            detail: format!("the connection closed after {got} of {} bytes", buf.len()),
        });
    }
    // The end of the body, so the connection can serve the next request.
    let mut extra = [0u8; 1];
    match reader.read(&mut extra) {
        Ok(0) => Ok(()),
        Ok(_) => Err(RemoteError::Protocol {
            url: a.url.clone(),
            detail: "the server sent more bytes than the range it named".into(),
        }),
        Err(_) => Ok(()),
    }
}

fn transport_error(url: &str, e: ureq::Error, timeout: Duration) -> RemoteError {
    let url = url.to_string();
    match e {
        ureq::Error::Timeout(_) => RemoteError::Timeout { url, timeout },
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            RemoteError::Timeout { url, timeout }
        }
        ureq::Error::TooManyRedirects => RemoteError::TooManyRedirects { url, limit: 0 },
        ureq::Error::HostNotFound => RemoteError::Connection {
            url,
            detail: "host not found".into(),
        },
        other => RemoteError::Connection {
            url,
            detail: other.to_string(),
        },
    }
}

impl super::remote::Fetch for HttpFetch {
    fn fetch(&self, offset: u64, buf: &mut [u8], stats: &Stats) -> Result<(), RemoteError> {
        let len = buf.len() as u64;
        if len == 0 {
            return Ok(());
        }
        let end = offset + len - 1;
        self.with_retries(|| {
            let mut a = self.get(offset, end, true, stats)?;
            let status = a.resp.status().as_u16();
            let now = Validator::from_headers(a.resp.headers());
            match status {
                206 => {}
                200 => {
                    return Err(match self.validator.mismatch(&now) {
                        Some(detail) => RemoteError::Changed { url: a.url, detail },
                        None => RemoteError::RangesIgnored { url: a.url },
                    })
                }
                412 => {
                    return Err(RemoteError::Changed {
                        url: a.url,
                        detail: "its validator no longer matches (HTTP 412)".into(),
                    })
                }
                416 => {
                    return Err(RemoteError::Changed {
                        url: a.url,
                        detail: format!("bytes {offset}-{end} are no longer there (HTTP 416)"),
                    })
                }
                s => return Err(status_error(&a.url, s, 1)),
            }
            if let Some(detail) = self.validator.mismatch(&now) {
                return Err(RemoteError::Changed { url: a.url, detail });
            }
            match content_range(a.resp.headers()) {
                Some((_, _, Some(t))) if t != self.size => {
                    return Err(RemoteError::Changed {
                        url: a.url,
                        detail: format!("its length {} became {t}", self.size),
                    })
                }
                Some((s, e, _)) if s == offset && e == end => {}
                Some((s, e, _)) => {
                    return Err(RemoteError::Protocol {
                        url: a.url,
                        detail: format!("asked for bytes {offset}-{end}, the server sent {s}-{e}"),
                    })
                }
                None => {
                    return Err(RemoteError::Protocol {
                        url: a.url,
                        detail: "a range answer without a usable Content-Range".into(),
                    })
                }
            }
            read_body(&mut a, buf, stats)?;
            Ok((a, ()))
        })
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors() {
        // RFC 4648 §10.
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn content_ranges() {
        let mut h = HeaderMap::new();
        h.insert("content-range", "bytes 0-1023/4096".parse().unwrap());
        assert_eq!(content_range(&h), Some((0, 1023, Some(4096))));
        h.insert("content-range", "bytes 5-9/*".parse().unwrap());
        assert_eq!(content_range(&h), Some((5, 9, None)));
        h.insert("content-range", "bytes */4096".parse().unwrap());
        assert_eq!(content_range(&h), None);
        h.insert("content-range", "items 0-1/2".parse().unwrap());
        assert_eq!(content_range(&h), None);
    }

    #[test]
    fn redirect_locations() {
        let base: Uri = "http://a.example:8080/pub/x/img.iso".parse().unwrap();
        assert_eq!(
            resolve(&base, "https://b.example/y.iso").unwrap(),
            "https://b.example/y.iso"
        );
        assert_eq!(
            resolve(&base, "//c.example/z").unwrap(),
            "http://c.example/z"
        );
        assert_eq!(
            resolve(&base, "/other.iso").unwrap(),
            "http://a.example:8080/other.iso"
        );
        assert_eq!(
            resolve(&base, "next.iso").unwrap(),
            "http://a.example:8080/pub/x/next.iso"
        );
    }

    fn fetcher(url: &str, opts: RemoteOptions) -> HttpFetch {
        HttpFetch {
            agent: ureq::Agent::new_with_defaults(),
            given: url.parse().unwrap(),
            url: url.into(),
            size: 0,
            validator: Validator::default(),
            opts,
        }
    }

    #[test]
    fn credentials_go_only_where_they_may() {
        let netrc = super::super::netrc::Netrc::parse(
            "machine a.example login u password p\nmachine b.example login v password q\n",
        );
        let f = fetcher(
            "http://a.example/x.iso",
            RemoteOptions::default().netrc(Some(netrc.clone())),
        );
        let auth = |u: &str| f.authorization(&u.parse().unwrap());
        assert_eq!(
            auth("http://a.example/y").unwrap(),
            format!("Basic {}", base64(b"u:p"))
        );
        // Plain HTTP to another host: never.
        assert_eq!(auth("http://b.example/y"), None);
        assert_eq!(
            auth("https://b.example/y").unwrap(),
            format!("Basic {}", base64(b"v:q"))
        );
        let t = fetcher(
            "https://a.example/x.iso",
            RemoteOptions::default().bearer_token(Some("tok".into())),
        );
        assert_eq!(
            t.authorization(&"https://a.example/z".parse().unwrap())
                .unwrap(),
            "Bearer tok"
        );
        assert_eq!(
            t.authorization(&"https://b.example/z".parse().unwrap()),
            None
        );
        assert_eq!(
            t.authorization(&"https://a.example:444/z".parse().unwrap()),
            None
        );
        // Never downgraded to plain HTTP by a redirect.
        assert_eq!(
            t.authorization(&"http://a.example/z".parse().unwrap()),
            None
        );
    }

    #[test]
    fn validators_compare() {
        let a = Validator {
            etag: Some("\"1\"".into()),
            last_modified: Some("Mon".into()),
        };
        assert_eq!(a.mismatch(&a.clone()), None);
        assert!(a
            .mismatch(&Validator {
                etag: Some("\"2\"".into()),
                last_modified: None
            })
            .is_some());
        assert_eq!(a.mismatch(&Validator::default()), None);
        assert_eq!(
            Validator {
                etag: Some("W/\"1\"".into()),
                last_modified: None
            }
            .strong_etag(),
            None
        );
    }
}
