//! `restore --cmapi`: the cluster is stopped before and started after, through a local HTTPS
//! server that implements CMAPI's two endpoints (`PUT /cmapi/0.4.0/cluster/shutdown` and
//! `.../cluster/start`, `x-api-key` checked, 401 otherwise as
//! cmapi/cmapi_server/controllers/endpoints.py:95-135 does) with a self-signed certificate.

mod dbrm_site;
mod util;

use dbrm_site::*;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use util::s;

const KEY: &str = "somekey123";

/// One request as the server saw it, with `_current` at that moment.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    key: Option<String>,
    body: String,
    current: Vec<u8>,
}

struct Server {
    url: String,
    cert_pem: PathBuf,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A self-signed certificate for 127.0.0.1; its PEM is written to `dir/name`.
fn cert(dir: &Path, name: &str) -> (CertificateDer<'static>, PrivateKeyDer<'static>, PathBuf) {
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let pem = dir.join(name);
    fs::write(&pem, cert.pem()).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
    (cert.der().clone(), key, pem)
}

fn serve(dir: &Path, dbrm: PathBuf) -> Server {
    let (cert_der, key, cert_pem) = cert(dir, "cmapi.pem");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert_der], key)
    .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, stream);
            // A client that rejects the certificate ends the handshake: nothing is recorded.
            let _ = handle(&mut tls, &dbrm, &log);
        }
    });
    Server {
        url,
        cert_pem,
        seen,
    }
}

fn handle(tls: &mut impl ReadWrite, dbrm: &Path, log: &Mutex<Vec<Seen>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(&mut *tls);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let (mut key, mut len) = (None, 0usize);
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':').unwrap_or((h, ""));
        match name.to_ascii_lowercase().as_str() {
            "x-api-key" => key = Some(value.trim().to_string()),
            "content-length" => len = value.trim().parse().unwrap_or(0),
            _ => {}
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    drop(reader);
    let known = method == "PUT"
        && (path == "/cmapi/0.4.0/cluster/shutdown" || path == "/cmapi/0.4.0/cluster/start");
    let (status, reply) = if key.as_deref() != Some(KEY) {
        ("401 Unauthorized", r#"{"error": "Wrong API key."}"#)
    } else if !known {
        ("404 Not Found", r#"{"error": "no such endpoint"}"#)
    } else {
        ("200 OK", r#"{"timestamp": "2026-12-01 00:00:00"}"#)
    };
    log.lock().unwrap().push(Seen {
        method,
        path,
        key,
        body: String::from_utf8_lossy(&body).into_owned(),
        current: fs::read(dbrm.join("BRM_saves_current")).unwrap_or_default(),
    });
    write!(
        tls,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    )?;
    tls.flush()
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn restore_with<'a>(site: &'a Site, bk: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = restore_args(site, bk);
    args.extend_from_slice(extra);
    args
}

#[test]
fn restore_stops_the_cluster_before_and_starts_it_after() {
    let site = site();
    let root = back_up(&site, "one");
    let server = serve(&site.root, site.dbrm.clone());
    let bk = root.join("one");
    let args = restore_with(
        &site,
        &bk,
        &[
            "--cmapi",
            &server.url,
            "--api-key",
            KEY,
            "--cacert",
            s(&server.cert_pem),
        ],
    );
    let (_, err) = emrebuild(&args, 0);
    assert!(
        err.contains("cluster stopped") && err.contains("cluster started"),
        "{err}"
    );
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("PUT", "/cmapi/0.4.0/cluster/shutdown")
    );
    assert_eq!(
        (seen[1].method.as_str(), seen[1].path.as_str()),
        ("PUT", "/cmapi/0.4.0/cluster/start")
    );
    for r in &seen {
        assert_eq!(r.key.as_deref(), Some(KEY));
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body, serde_json::json!({"timeout": 60}));
    }
    // Stopped while the old map was in place, started once the backup was.
    assert_eq!(seen[0].current, b"BRM_savesB\n");
    assert_eq!(seen[1].current, b"BRM_saves\n");
    assert_restored(&site, &[1, 0, 0, 0, 17]);
}

#[test]
fn insecure_accepts_the_self_signed_certificate() {
    let site = site();
    let root = back_up(&site, "one");
    let server = serve(&site.root, site.dbrm.clone());
    let bk = root.join("one");
    emrebuild(
        &restore_with(
            &site,
            &bk,
            &["--cmapi", &server.url, "--api-key", KEY, "--insecure"],
        ),
        0,
    );
    assert_eq!(server.seen.lock().unwrap().len(), 2);
    assert_restored(&site, &[1, 0, 0, 0, 17]);
}

#[test]
fn a_wrong_key_stops_before_anything_changes() {
    let site = site();
    let root = back_up(&site, "one");
    let server = serve(&site.root, site.dbrm.clone());
    let before = digests(&site.dbrm);
    let bk = root.join("one");
    let (_, err) = emrebuild(
        &restore_with(
            &site,
            &bk,
            &[
                "--cmapi",
                &server.url,
                "--api-key",
                "wrong",
                "--cacert",
                s(&server.cert_pem),
            ],
        ),
        2,
    );
    assert!(
        err.contains("HTTP 401") && err.contains("cluster/shutdown"),
        "{err}"
    );
    assert_eq!(server.seen.lock().unwrap().len(), 1);
    assert_eq!(digests(&site.dbrm), before);
}

#[test]
fn a_certificate_not_signed_by_cacert_is_refused() {
    let site = site();
    let root = back_up(&site, "one");
    let server = serve(&site.root, site.dbrm.clone());
    let (_, _, other) = cert(&site.root, "other.pem");
    let before = digests(&site.dbrm);
    let bk = root.join("one");
    let (_, err) = emrebuild(
        &restore_with(
            &site,
            &bk,
            &[
                "--cmapi",
                &server.url,
                "--api-key",
                KEY,
                "--cacert",
                s(&other),
            ],
        ),
        2,
    );
    assert!(
        err.contains("cluster/shutdown") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
    // Neither --cacert nor --insecure: refused before any connection.
    let (_, err) = emrebuild(
        &restore_with(&site, &bk, &["--cmapi", &server.url, "--api-key", KEY]),
        2,
    );
    assert!(
        err.contains("--cacert") && err.contains("--insecure"),
        "{err}"
    );
    assert!(server.seen.lock().unwrap().is_empty());
    assert_eq!(digests(&site.dbrm), before);
}
