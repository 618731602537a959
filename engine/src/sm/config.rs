//! `storagemanager.cnf`: where StorageManager keeps metadata, journals, cached objects and the
//! objects themselves, read the way StorageManager reads it.
//!
//! The file is INI (boost `read_ini`, storage-manager/src/Config.cpp:164): `[Section]` lines,
//! `key = value` lines, comments starting with `#` or `;`. Every value goes through
//! `Config::getValue` (Config.cpp:190-216): `${NAME}` becomes the environment variable NAME (empty
//! if unset), then a value that is digits followed by one of `k m g` (either case) is multiplied
//! by 2^10, 2^20 or 2^30.
//!
//! | section / key | used for | upstream |
//! |---|---|---|
//! | `ObjectStorage/service` | `LocalStorage` or `S3` (case-insensitive) | CloudStorage.cpp:54 |
//! | `ObjectStorage/object_size` | the size objects are cut at | MetadataFile.cpp:76 |
//! | `ObjectStorage/metadata_path` | `<path>/<prefix…>/<file>.meta` | MetadataFile.cpp:86, 125 |
//! | `ObjectStorage/journal_path` | `<path>/<first dir>/<key>.journal` | Cache.cpp:96; IOCoordinator.cpp:214 |
//! | `ObjectStorage/common_prefix_depth` | leading directories dropped from a file's path | Ownership.cpp:38-48, 74-101 |
//! | `Cache/path` | `<path>/<first dir>/<key>` | Cache.cpp:77; IOCoordinator.cpp:235 |
//! | `LocalStorage/path` | `<path>/<key>` | LocalStorage.cpp:34, 134 |
//! | `S3/bucket`, `region`, `endpoint`, `prefix` | object `prefix + key` in the bucket | S3Storage.cpp:207-217, 378 |
//! | `S3/aws_access_key_id`, `aws_secret_access_key` | credentials, else `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` | S3Storage.cpp:127-186 |
//! | `S3/use_http`, `ssl_verify`, `port_number` | `enabled` / `disabled`, a port | S3Storage.cpp:133-165 |
//!
//! ```
//! use emengine::sm::config::{Service, SmConfig};
//! let text = "[ObjectStorage]\nservice = LocalStorage\nobject_size = 5M\n\
//!             metadata_path = /sm/metadata\njournal_path = /sm/journal\ncommon_prefix_depth = 3\n\
//!             [LocalStorage]\npath = /sm/fake-cloud\n[Cache]\npath = /sm/cache\n";
//! let cfg = SmConfig::parse(text, "storagemanager.cnf".as_ref(), &|_| None).unwrap();
//! assert_eq!(cfg.object_size, 5 << 20);
//! assert_eq!(cfg.service, Service::LocalStorage { path: "/sm/fake-cloud".into() });
//! ```

use crate::error::Error;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the objects live when they are not in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    /// A folder standing in for the cloud (`[LocalStorage] path`).
    LocalStorage { path: PathBuf },
    /// An S3 bucket.
    S3(S3Settings),
}

/// The `[S3]` section, with the credentials resolved.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    /// Empty when unset; signing then uses `us-east-1`.
    pub region: String,
    /// Host (and optional port) of an S3-compatible store, or a full URL; `None` for AWS.
    pub endpoint: Option<String>,
    /// Prepended to every object key (S3Storage.cpp:378).
    pub prefix: String,
    pub access_key: String,
    pub secret_key: String,
    /// `use_http = enabled`: plain HTTP instead of HTTPS.
    pub use_http: bool,
    /// `port_number`, when set.
    pub port: Option<u16>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("prefix", &self.prefix)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<hidden>")
            .field("use_http", &self.use_http)
            .field("port", &self.port)
            .finish()
    }
}

/// What the rebuild needs from `storagemanager.cnf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmConfig {
    /// The file this was read from.
    pub file: PathBuf,
    pub service: Service,
    pub object_size: u64,
    pub metadata_path: PathBuf,
    pub journal_path: PathBuf,
    pub cache_path: PathBuf,
    pub common_prefix_depth: usize,
}

/// Looks up an environment variable (a parameter so tests need not touch the process's).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, for [`SmConfig::read`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl SmConfig {
    /// Read and check `path`, resolving `${NAME}` and the S3 credentials from `env`.
    pub fn read(path: &Path, env: EnvLookup<'_>) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read", e))?;
        Self::parse(&text, path, env)
    }

    /// Parse the text of `path`.
    pub fn parse(text: &str, path: &Path, env: EnvLookup<'_>) -> Result<Self, Error> {
        let err = |detail: String| Error::Config {
            path: path.to_path_buf(),
            detail,
        };
        let ini = parse_ini(text).map_err(err)?;
        let get = |section: &str, key: &str| -> String {
            ini.get(&(section.to_string(), key.to_string()))
                .map(|v| expand(v, env))
                .unwrap_or_default()
        };
        let required = |section: &str, key: &str| -> Result<String, Error> {
            let v = get(section, key);
            if v.is_empty() {
                return Err(err(format!("{section}/{key} is not set")));
            }
            Ok(v)
        };
        let object_size = required("ObjectStorage", "object_size")?;
        let object_size: u64 = object_size.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
            err(format!(
                "ObjectStorage/object_size: expected a positive number, found \"{object_size}\""
            ))
        })?;
        let depth = required("ObjectStorage", "common_prefix_depth")?;
        let common_prefix_depth = parse_c_unsigned(&depth).ok_or_else(|| {
            err(format!(
                "ObjectStorage/common_prefix_depth: expected a number, found \"{depth}\""
            ))
        })?;
        let service_name = required("ObjectStorage", "service")?;
        let service = match service_name.to_ascii_lowercase().as_str() {
            "localstorage" => Service::LocalStorage {
                path: required("LocalStorage", "path")?.into(),
            },
            "s3" => Service::S3(s3_settings(&get, env).map_err(err)?),
            _ => {
                return Err(err(format!(
                    "ObjectStorage/service: expected LocalStorage or S3, found \"{service_name}\""
                )))
            }
        };
        Ok(SmConfig {
            file: path.to_path_buf(),
            service,
            object_size,
            metadata_path: required("ObjectStorage", "metadata_path")?.into(),
            journal_path: required("ObjectStorage", "journal_path")?.into(),
            cache_path: required("Cache", "path")?.into(),
            common_prefix_depth,
        })
    }
}

fn s3_settings(
    get: &dyn Fn(&str, &str) -> String,
    env: EnvLookup<'_>,
) -> Result<S3Settings, String> {
    let mut access_key = get("S3", "aws_access_key_id");
    let mut secret_key = get("S3", "aws_secret_access_key");
    if access_key.is_empty() {
        access_key = env("AWS_ACCESS_KEY_ID").unwrap_or_default();
    }
    if secret_key.is_empty() {
        secret_key = env("AWS_SECRET_ACCESS_KEY").unwrap_or_default();
    }
    if access_key.is_empty() || secret_key.is_empty() {
        return Err("S3 credentials not found: set S3/aws_access_key_id and \
                    S3/aws_secret_access_key or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                    (IAM roles and ec2_iam_mode are not supported)"
            .into());
    }
    let bucket = get("S3", "bucket");
    if bucket.is_empty() {
        return Err("S3/bucket is not set".into());
    }
    let port = match get("S3", "port_number") {
        p if p.is_empty() => None,
        p => Some(
            p.parse::<u16>()
                .map_err(|_| format!("S3/port_number: expected a port, found \"{p}\""))?,
        ),
    };
    let endpoint = Some(get("S3", "endpoint")).filter(|e| !e.is_empty());
    Ok(S3Settings {
        bucket,
        region: get("S3", "region"),
        endpoint,
        prefix: get("S3", "prefix"),
        access_key,
        secret_key,
        use_http: get("S3", "use_http").eq_ignore_ascii_case("enabled"),
        port,
    })
}

/// `(section, key) → raw value`. Duplicate keys are refused, as boost's `read_ini` refuses them.
fn parse_ini(text: &str) -> Result<BTreeMap<(String, String), String>, String> {
    let mut out = BTreeMap::new();
    let mut section = String::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest
                .strip_suffix(']')
                .ok_or_else(|| format!("line {}: unterminated section \"{line}\"", n + 1))?;
            section = name.trim().to_string();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected key = value, found \"{line}\"", n + 1))?;
        let key = (section.clone(), key.trim().to_string());
        if out.contains_key(&key) {
            return Err(format!("line {}: duplicate key {}/{}", n + 1, key.0, key.1));
        }
        out.insert(key, value.trim().to_string());
    }
    Ok(out)
}

/// `Config::getValue`'s substitutions (Config.cpp:205-213): `${NAME}` from the environment (the
/// upstream pattern `\$\{(.+)\}` is greedy: everything between the first `${` and the last `}`
/// is the name), then a `k`/`m`/`g` size suffix.
fn expand(raw: &str, env: EnvLookup<'_>) -> String {
    let mut value = raw.to_string();
    if let (Some(start), Some(end)) = (value.find("${"), value.rfind('}')) {
        if end > start + 2 {
            let name = &value[start + 2..end];
            let sub = env(name).unwrap_or_default();
            value = format!("{}{}{}", &value[..start], sub, &value[end + 1..]);
        }
    }
    let Some(last) = value.chars().last() else {
        return value;
    };
    let digits = &value[..value.len() - last.len_utf8()];
    let shift = match last.to_ascii_lowercase() {
        'k' => 10,
        'm' => 20,
        'g' => 30,
        _ => return value,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return value;
    }
    match digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_shl(shift))
    {
        Some(n) if n >> shift == digits.parse::<u64>().unwrap_or(0) => n.to_string(),
        _ => value,
    }
}

/// `stoul(s, NULL, 0)`: decimal, `0x` hex or leading-zero octal.
fn parse_c_unsigned(s: &str) -> Option<usize> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        usize::from_str_radix(hex, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        usize::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: &str = "\
# comment
[ObjectStorage]
service = LocalStorage
object_size = 5M
metadata_path = ${HOME}/storagemanager/metadata
journal_path = /var/lib/columnstore/storagemanager/journal
common_prefix_depth = 3
[LocalStorage]
path = /var/lib/columnstore/storagemanager/fake-cloud
fake_latency = n
[Cache]
cache_size = 2g
path = /var/lib/columnstore/storagemanager/cache
";

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/cs".into()),
            "AWS_ACCESS_KEY_ID" => Some("AKIAENV".into()),
            "AWS_SECRET_ACCESS_KEY" => Some("envsecret".into()),
            _ => None,
        }
    }

    #[test]
    fn local_storage_config_with_env_and_size_suffix() {
        let c = SmConfig::parse(LOCAL, Path::new("sm.cnf"), &env).unwrap();
        assert_eq!(c.object_size, 5 * 1024 * 1024);
        assert_eq!(
            c.metadata_path,
            PathBuf::from("/home/cs/storagemanager/metadata")
        );
        assert_eq!(c.common_prefix_depth, 3);
        assert_eq!(
            c.service,
            Service::LocalStorage {
                path: "/var/lib/columnstore/storagemanager/fake-cloud".into()
            }
        );
        assert_eq!(
            c.cache_path,
            PathBuf::from("/var/lib/columnstore/storagemanager/cache")
        );
    }

    #[test]
    fn s3_credentials_come_from_the_file_before_the_environment() {
        let text = LOCAL.replace("service = LocalStorage", "service = S3")
            + "[S3]\nbucket = cs-data\nregion = eu-west-1\nendpoint = 127.0.0.1\nport_number = 9000\nuse_http = Enabled\nprefix = cs/\naws_access_key_id = AKIAFILE\n";
        let c = SmConfig::parse(&text, Path::new("sm.cnf"), &env).unwrap();
        let Service::S3(s3) = c.service else {
            panic!("not S3")
        };
        assert_eq!(s3.bucket, "cs-data");
        assert_eq!(s3.access_key, "AKIAFILE");
        assert_eq!(s3.secret_key, "envsecret");
        assert_eq!(s3.port, Some(9000));
        assert!(s3.use_http);
        assert_eq!(s3.prefix, "cs/");
        assert!(!format!("{s3:?}").contains("envsecret"));
    }

    #[test]
    fn missing_and_bad_values_are_named() {
        let no_meta = LOCAL.replace("metadata_path", "# metadata_path");
        let e = SmConfig::parse(&no_meta, Path::new("sm.cnf"), &env).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sm.cnf: ObjectStorage/metadata_path is not set"
        );
        let bad = LOCAL.replace("object_size = 5M", "object_size = 5X");
        let e = SmConfig::parse(&bad, Path::new("sm.cnf"), &env).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sm.cnf: ObjectStorage/object_size: expected a positive number, found \"5X\""
        );
        let s3 = LOCAL.replace("service = LocalStorage", "service = S3") + "[S3]\nbucket = b\n";
        let e = SmConfig::parse(&s3, Path::new("sm.cnf"), &|_| None).unwrap_err();
        assert!(e.to_string().contains("S3 credentials not found"), "{e}");
        let dup = LOCAL.to_string() + "[Cache]\npath = /x\n";
        let e = SmConfig::parse(&dup, Path::new("sm.cnf"), &env).unwrap_err();
        assert!(e.to_string().contains("duplicate key Cache/path"), "{e}");
    }

    #[test]
    fn size_suffixes_follow_config_cpp() {
        assert_eq!(expand("2g", &|_| None), (2u64 << 30).to_string());
        assert_eq!(expand("64K", &|_| None), "65536");
        assert_eq!(expand("5T", &|_| None), "5T");
        assert_eq!(expand("m", &|_| None), "m");
        assert_eq!(expand("${NOPE}/x", &|_| None), "/x");
    }
}
