//! Where StorageManager objects are read from when they are not in the local cache: a
//! `LocalStorage` folder (`<path>/<key>`, LocalStorage.cpp:130-139) or an S3 bucket
//! (`<prefix><key>`, S3Storage.cpp:378-392). Read-only: nothing here writes, deletes or
//! creates anything, in the bucket or elsewhere.
//!
//! S3 reads are ranged `GET`s on presigned URLs (SigV4, signed by `rusty-s3`), sent by `ureq`.
//! An explicit `endpoint` is addressed path-style (`http(s)://endpoint[:port]/bucket/key`), as
//! S3-compatible stores expect; without one, AWS's regional endpoint is used.

use super::config::{S3Settings, Service};
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

/// How long a presigned request stays valid: it is sent at once.
const PRESIGN_FOR: Duration = Duration::from_secs(300);
/// Bytes asked for in one ranged GET, unless set with [`Backend::set_range_bytes`].
pub const RANGE_BYTES: u64 = 8 << 20;

/// An object store that can be read.
pub enum Backend {
    Local(PathBuf),
    S3(Box<S3Backend>),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Local(p) => f.debug_tuple("Local").field(p).finish(),
            Backend::S3(s) => f
                .debug_struct("S3")
                .field("bucket", &s.bucket.name())
                .field("url", &s.bucket.base_url().as_str())
                .finish(),
        }
    }
}

/// A bucket and the credentials to read it.
pub struct S3Backend {
    bucket: rusty_s3::Bucket,
    credentials: rusty_s3::Credentials,
    prefix: String,
    agent: ureq::Agent,
    range_bytes: u64,
}

impl Backend {
    /// The backend `service` names.
    pub fn new(service: &Service) -> Result<Self, String> {
        match service {
            Service::LocalStorage { path } => Ok(Backend::Local(path.clone())),
            Service::S3(s3) => S3Backend::new(s3).map(|b| Backend::S3(Box::new(b))),
        }
    }

    /// Ask S3 for at most `bytes` (at least 1) per ranged GET. No effect on a local folder.
    pub fn set_range_bytes(&mut self, bytes: u64) {
        if let Backend::S3(s3) = self {
            s3.range_bytes = bytes.max(1);
        }
    }

    /// Where an object lives, for messages.
    pub fn describe(&self, key: &str) -> String {
        match self {
            Backend::Local(root) => root.join(key).display().to_string(),
            Backend::S3(s) => format!("s3://{}/{}{key}", s.bucket.name(), s.prefix),
        }
    }

    /// The first `limit` bytes of object `key` (all of it if shorter); `Ok(None)` if there is no
    /// such object. Memory grows with the bytes received, never with `limit` alone.
    pub fn get(&self, key: &str, limit: u64) -> Result<Option<Vec<u8>>, String> {
        match self {
            Backend::Local(root) => {
                let path = root.join(key);
                match std::fs::File::open(&path) {
                    Ok(f) => {
                        let mut out = Vec::new();
                        f.take(limit)
                            .read_to_end(&mut out)
                            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                        Ok(Some(out))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(format!("cannot open {}: {e}", path.display())),
                }
            }
            Backend::S3(s3) => s3.get(key, limit),
        }
    }
}

impl S3Backend {
    fn new(s: &S3Settings) -> Result<Self, String> {
        let region = if s.region.is_empty() {
            "us-east-1".to_string()
        } else {
            s.region.clone()
        };
        let (url, style) = match &s.endpoint {
            Some(ep) => {
                let scheme = if s.use_http { "http" } else { "https" };
                let mut url = if ep.contains("://") {
                    ep.clone()
                } else {
                    format!("{scheme}://{ep}")
                };
                if let Some(port) = s.port {
                    let mut parsed = url::Url::parse(&url)
                        .map_err(|e| format!("S3/endpoint \"{ep}\" is not usable: {e}"))?;
                    parsed
                        .set_port(Some(port))
                        .map_err(|_| format!("S3/endpoint \"{ep}\" cannot take a port"))?;
                    url = parsed.to_string();
                }
                (url, rusty_s3::UrlStyle::Path)
            }
            None => (
                format!("https://s3.{region}.amazonaws.com"),
                rusty_s3::UrlStyle::VirtualHost,
            ),
        };
        let endpoint = url::Url::parse(&url)
            .map_err(|e| format!("S3 endpoint \"{url}\" is not a URL: {e}"))?;
        let bucket = rusty_s3::Bucket::new(endpoint, style, s.bucket.clone(), region)
            .map_err(|e| format!("S3 bucket \"{}\" at \"{url}\": {e}", s.bucket))?;
        Ok(S3Backend {
            bucket,
            credentials: rusty_s3::Credentials::new(s.access_key.clone(), s.secret_key.clone()),
            prefix: s.prefix.clone(),
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(10))
                .timeout_read(Duration::from_secs(60))
                .build(),
            range_bytes: RANGE_BYTES,
        })
    }

    /// Ranged GETs of at most `range_bytes` each until `limit` bytes or the object's end.
    fn get(&self, key: &str, limit: u64) -> Result<Option<Vec<u8>>, String> {
        use rusty_s3::S3Action;
        let object = format!("{}{key}", self.prefix);
        let mut out = Vec::new();
        while (out.len() as u64) < limit {
            let start = out.len() as u64;
            let end = (start + self.range_bytes).min(limit) - 1;
            let range = format!("bytes={start}-{end}");
            let mut action = self.bucket.get_object(Some(&self.credentials), &object);
            action.headers_mut().insert("range", range.clone());
            let url = action.sign(PRESIGN_FOR);
            let response = match self.agent.get(url.as_str()).set("Range", &range).call() {
                Ok(r) => r,
                Err(ureq::Error::Status(404, _)) if start == 0 => return Ok(None),
                // Asked past the end of an object that ended exactly at a range boundary.
                Err(ureq::Error::Status(416, _)) => break,
                Err(ureq::Error::Status(code, r)) => {
                    let body = r.into_string().unwrap_or_default();
                    let body: String = body.chars().take(300).collect();
                    return Err(format!(
                        "GET {range} of s3 object {object}: HTTP {code}: {body}"
                    ));
                }
                Err(e) => return Err(format!("GET {range} of s3 object {object}: {e}")),
            };
            let whole = response.status() == 200; // a server that ignores Range
            if whole && start > 0 {
                return Err(format!(
                    "GET {range} of s3 object {object}: the server answered 200 with the whole \
                     object to a ranged request after a partial answer"
                ));
            }
            let before = out.len();
            response
                .into_reader()
                .take(limit - start)
                .read_to_end(&mut out)
                .map_err(|e| format!("GET {range} of s3 object {object}: {e}"))?;
            let got = (out.len() - before) as u64;
            if whole || got < end - start + 1 {
                break;
            }
        }
        Ok(Some(out))
    }
}
