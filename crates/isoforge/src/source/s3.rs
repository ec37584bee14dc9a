//! Objects in an S3-compatible store (`s3://bucket/key`), through
//! `object_store`: credentials from the usual `AWS_*` environment variables,
//! a custom endpoint with path-style addressing for stores other than AWS.
//! `object_store` is async; one current-thread runtime drives its requests.
//!
//! The first request (a ranged GET of the first block) pins the object's
//! length and ETag; every later GET carries `If-Match` with that ETag, so a
//! replaced object is refused by the store (`412`), never mixed.

use std::ops::Range;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjPath;
use object_store::{BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore, RetryConfig};

use super::remote::{RemoteError, RemoteOptions, Stats};

/// One S3 object.
pub(crate) struct S3Fetch {
    rt: tokio::runtime::Runtime,
    store: AmazonS3,
    path: ObjPath,
    url: String,
    etag: Option<String>,
    size: u64,
    timeout: Duration,
}

/// `s3://bucket/key` split.
fn split(url: &str) -> Result<(String, String), RemoteError> {
    let rest = url.get(5..).unwrap_or_default();
    match rest.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b.to_string(), k.to_string())),
        _ => Err(RemoteError::Location {
            url: url.into(),
            detail: "not of the form s3://BUCKET/KEY".into(),
        }),
    }
}

fn map_error(url: &str, e: object_store::Error, timeout: Duration) -> RemoteError {
    let url = url.to_string();
    let text = e.to_string();
    let denied = matches!(e, object_store::Error::PermissionDenied { .. });
    let unauthenticated = matches!(e, object_store::Error::Unauthenticated { .. });
    match e {
        object_store::Error::NotFound { .. } => return RemoteError::NotFound { url },
        object_store::Error::Precondition { .. } => {
            return RemoteError::Changed {
                url,
                detail: "its ETag no longer matches (HTTP 412)".into(),
            }
        }
        _ => {}
    }
    let has = |w: &str| text.contains(w);
    if has("InvalidAccessKeyId") || has("SignatureDoesNotMatch") || has("InvalidToken") {
        let code = [
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "InvalidToken",
        ]
        .into_iter()
        .find(|w| has(w))
        .unwrap_or("refused");
        RemoteError::BadCredentials {
            url,
            detail: format!("the store answered {code}"),
        }
    } else if unauthenticated {
        RemoteError::BadCredentials {
            url,
            detail: "the store did not accept them".into(),
        }
    } else if denied || has("AccessDenied") || has("403") {
        RemoteError::Forbidden { url }
    } else if has("NoSuchBucket") || has("NoSuchKey") || has("404") {
        RemoteError::NotFound { url }
    } else if has("timed out") || has("timeout") || has("Timeout") {
        RemoteError::Timeout { url, timeout }
    } else if has("412") || has("PreconditionFailed") {
        RemoteError::Changed {
            url,
            detail: "its ETag no longer matches (HTTP 412)".into(),
        }
    } else {
        RemoteError::Connection { url, detail: text }
    }
}

impl S3Fetch {
    /// Opens `url` with a first GET of one block: the fetcher, the object's
    /// length and those bytes.
    pub(crate) fn open(
        url: &str,
        opts: &RemoteOptions,
        stats: &Stats,
    ) -> Result<(S3Fetch, u64, Vec<u8>), RemoteError> {
        let (bucket, key) = split(url)?;
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_virtual_hosted_style_request(false)
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(opts.timeout)
                    .with_connect_timeout(opts.timeout)
                    .with_allow_http(true),
            )
            .with_retry(RetryConfig {
                max_retries: usize::try_from(opts.retries).unwrap_or(usize::MAX),
                backoff: BackoffConfig {
                    init_backoff: opts.backoff,
                    max_backoff: Duration::from_secs(10),
                    base: 2.0,
                },
                retry_timeout: opts.timeout.saturating_mul(opts.retries.saturating_add(1)),
            });
        if let Some(ep) = &opts.s3_endpoint {
            b = b.with_endpoint(ep.as_str());
        }
        let store = b.build().map_err(|e| RemoteError::Location {
            url: url.into(),
            detail: format!("cannot set up the S3 client: {e}"),
        })?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| RemoteError::Location {
                url: url.into(),
                detail: format!("cannot start the S3 client's runtime: {e}"),
            })?;
        let mut f = S3Fetch {
            rt,
            store,
            path: ObjPath::from(key),
            url: url.into(),
            etag: None,
            size: 0,
            timeout: opts.timeout,
        };
        let (data, meta) = f.get(0..opts.block_size.max(1), false, stats)?;
        f.size = meta.size;
        f.etag = meta.e_tag;
        Ok((f, meta.size, data))
    }

    fn get(
        &self,
        range: Range<u64>,
        pinned: bool,
        stats: &Stats,
    ) -> Result<(Vec<u8>, object_store::ObjectMeta), RemoteError> {
        let want = range.end - range.start;
        let options = GetOptions {
            range: Some(GetRange::Bounded(range.clone())),
            if_match: if pinned { self.etag.clone() } else { None },
            ..GetOptions::default()
        };
        stats.request();
        let err = |e| map_error(&self.url, e, self.timeout);
        let (data, meta) = self
            .rt
            .block_on(async {
                let r = self.store.get_opts(&self.path, options).await?;
                let meta = r.meta.clone();
                let bytes = r.bytes().await?;
                Ok::<_, object_store::Error>((bytes, meta))
            })
            .map_err(err)?;
        stats.received(data.len() as u64);
        if pinned {
            if meta.size != self.size {
                return Err(RemoteError::Changed {
                    url: self.url.clone(),
                    detail: format!("its length {} became {}", self.size, meta.size),
                });
            }
            if let (Some(a), Some(b)) = (&self.etag, &meta.e_tag) {
                if a != b {
                    return Err(RemoteError::Changed {
                        url: self.url.clone(),
                        detail: format!("ETag {a} became {b}"),
                    });
                }
            }
        }
        let expect = want.min(meta.size.saturating_sub(range.start));
        if data.len() as u64 != expect {
            return Err(RemoteError::Protocol {
                url: self.url.clone(),
                detail: format!(
                    "asked for {expect} bytes at {}, the store sent {}",
                    range.start,
                    data.len()
                ),
            });
        }
        Ok((data.to_vec(), meta))
    }
}

impl super::remote::Fetch for S3Fetch {
    fn fetch(&self, offset: u64, buf: &mut [u8], stats: &Stats) -> Result<(), RemoteError> {
        let (data, _) = self.get(offset..offset + buf.len() as u64, true, stats)?;
        if data.len() != buf.len() {
            return Err(RemoteError::Changed {
                url: self.url.clone(),
                detail: "the object is shorter than it was".into(),
            });
        }
        buf.copy_from_slice(&data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            split("s3://bucket/dir/img.iso").unwrap(),
            ("bucket".to_string(), "dir/img.iso".to_string())
        );
        assert!(split("s3://bucket").is_err());
        assert!(split("s3:///key").is_err());
    }
}
