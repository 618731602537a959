//! CMAPI, the cluster manager's REST API: `PUT https://HOST:8640/cmapi/0.4.0/cluster/shutdown` and
//! `.../cluster/start` with the `x-api-key` header and `{"timeout":60}`
//! (cmapi/cmapi_server/controllers/dispatcher.py:138-151; the key check,
//! cmapi/cmapi_server/controllers/endpoints.py:95-135). CMAPI's certificate is self-signed, so the
//! caller names it (`--cacert`) or explicitly accepts any (`--insecure`).

use anyhow::{bail, Context};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// CMAPI connection options.
#[derive(clap::Args, Debug, Clone)]
pub struct CmapiArgs {
    /// Stop the cluster through CMAPI before and start it after, e.g. https://127.0.0.1:8640.
    #[arg(long, value_name = "URL")]
    pub cmapi: Option<String>,
    /// CMAPI's API key (x-api-key).
    #[arg(
        long,
        value_name = "KEY",
        env = "EMREBUILD_CMAPI_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
    /// CA certificate (PEM) that signed CMAPI's certificate.
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    pub cacert: Option<PathBuf>,
    /// Accept any certificate from CMAPI (it is self-signed by default).
    #[arg(long)]
    pub insecure: bool,
}

/// A configured CMAPI client.
pub struct Cmapi {
    agent: ureq::Agent,
    base: String,
    key: String,
}

/// The API version in the paths.
const API: &str = "cmapi/0.4.0";

impl Cmapi {
    /// `None` when `--cmapi` was not given.
    pub fn from_args(a: &CmapiArgs) -> anyhow::Result<Option<Cmapi>> {
        let Some(url) = &a.cmapi else {
            return Ok(None);
        };
        if !url.starts_with("https://") {
            bail!("--cmapi {url:?}: expected an https:// URL, e.g. https://127.0.0.1:8640");
        }
        let key = a
            .api_key
            .clone()
            .context("--cmapi needs --api-key (or EMREBUILD_CMAPI_KEY)")?;
        let provider = Arc::new(ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS setup")?;
        let config = if let Some(ca) = &a.cacert {
            builder
                .with_root_certificates(roots(ca)?)
                .with_no_client_auth()
        } else if a.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCert(
                    provider.signature_verification_algorithms,
                )))
                .with_no_client_auth()
        } else {
            bail!("CMAPI's certificate is self-signed: give --cacert FILE, or --insecure to accept any certificate");
        };
        let agent = ureq::AgentBuilder::new()
            .tls_config(Arc::new(config))
            .timeout(Duration::from_secs(180))
            .build();
        Ok(Some(Cmapi {
            agent,
            base: url.trim_end_matches('/').to_string(),
            key,
        }))
    }

    /// `PUT .../cluster/shutdown`.
    pub fn shutdown(&self) -> anyhow::Result<String> {
        self.put("cluster/shutdown")
    }

    /// `PUT .../cluster/start`.
    pub fn start(&self) -> anyhow::Result<String> {
        self.put("cluster/start")
    }

    fn put(&self, what: &str) -> anyhow::Result<String> {
        let url = format!("{}/{API}/{what}", self.base);
        let resp = self
            .agent
            .put(&url)
            .set("Content-Type", "application/json")
            .set("x-api-key", &self.key)
            .send_string(r#"{"timeout":60}"#);
        match resp {
            Ok(r) => Ok(r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(code, r)) => {
                let body = r.into_string().unwrap_or_default();
                let hint = if code == 401 {
                    " (wrong or empty API key)"
                } else {
                    ""
                };
                bail!("PUT {url}: HTTP {code}{hint}: {}", body.trim())
            }
            Err(e) => bail!("PUT {url}: {e}"),
        }
    }
}

fn roots(ca: &Path) -> anyhow::Result<rustls::RootCertStore> {
    let mut store = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca)
        .with_context(|| format!("{}: cannot read", ca.display()))?
    {
        let cert = cert.with_context(|| format!("{}: not a PEM certificate", ca.display()))?;
        store
            .add(cert)
            .with_context(|| format!("{}: unusable certificate", ca.display()))?;
    }
    if store.is_empty() {
        bail!("{}: no certificate in it", ca.display());
    }
    Ok(store)
}

/// `--insecure`: any server certificate is accepted; signatures are still checked.
#[derive(Debug)]
struct AnyCert(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
