//! The control-plane gRPC connections, both ends: a client (a zone dialing global, a proxy
//! dialing its zone) always speaks TLS, trusts only the CA it was given, presents its token on
//! every stream and reconnects with capped, jittered backoff; a server serves TLS with its
//! certificate and bounds handshakes and streams.

use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{
    Certificate, Channel, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig,
};

/// How long a TLS handshake may take, either side.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Keep-alive pings on idle control streams, and how long an answer may take.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A control-plane server `address` to dial over TLS, trusting `ca_pem`, presenting `token`.
#[derive(Clone)]
pub struct ControlClient {
    pub address: String,
    endpoint: Endpoint,
    authorization: MetadataValue<Ascii>,
}

impl ControlClient {
    /// `flag` names the setting in errors (`--global-address`).
    pub fn new(address: &str, flag: &str, ca_pem: &str, token: &str) -> Result<Self, String> {
        let Some(rest) = address.strip_prefix("https://") else {
            return Err(format!(
                "{flag} must start with https:// (control-plane connections are always TLS), got {address:?}"
            ));
        };
        if rest.is_empty() {
            return Err(format!("{flag} names no host: {address:?}"));
        }
        if !ca_pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err("the CA file holds no PEM certificate".to_string());
        }
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca_pem))
            .timeout(HANDSHAKE_TIMEOUT);
        let endpoint = Endpoint::from_shared(address.to_string())
            .map_err(|error| format!("invalid {flag}: {error}"))?
            .tls_config(tls)
            .map_err(|error| format!("TLS settings for {flag}: {}", chain(&error)))?
            .connect_timeout(Duration::from_secs(3))
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true);
        let authorization = format!("Bearer {}", token.trim())
            .parse()
            .map_err(|_| "the token is not a valid header value".to_string())?;
        Ok(ControlClient {
            address: address.to_string(),
            endpoint,
            authorization,
        })
    }

    /// A new connection; its error says why (refused, certificate not trusted, …).
    pub async fn connect(&self) -> Result<Channel, String> {
        self.endpoint
            .connect()
            .await
            .map_err(|error| format!("connect to {}: {}", self.address, chain(&error)))
    }

    /// `message` with this client's token attached.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.authorization.clone());
        request
    }
}

/// The bearer token of a request, or "" when there is none.
pub fn bearer_token<T>(request: &tonic::Request<T>) -> String {
    request
        .metadata()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Flags of a control-plane server's certificate (weft-global's and weft-zone's gRPC port).
#[derive(Clone, Debug, clap::Args)]
pub struct ServingTlsArgs {
    /// PEM certificate chain the gRPC port serves. Without it (and --tls-key-file) the control
    /// plane keeps its own CA and certificate in `<data-dir>/tls/`; clients trust `ca.pem`.
    #[arg(long, env = "WEFT_TLS_CERT_FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<std::path::PathBuf>,

    /// PEM private key of --tls-cert-file.
    #[arg(long, env = "WEFT_TLS_KEY_FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<std::path::PathBuf>,

    /// A DNS name or IP address clients dial this control plane at, for the certificate it
    /// makes itself (repeatable; localhost, 127.0.0.1, ::1 and the host name are always in).
    #[arg(long = "tls-name", env = "WEFT_TLS_NAMES", value_delimiter = ',')]
    pub tls_names: Vec<String>,
}

impl ServingTlsArgs {
    /// The certificate to serve: the operator's, or the one kept in `data_dir/tls`.
    pub fn load(
        &self,
        data_dir: &std::path::Path,
        purpose: &str,
    ) -> Result<weft_identity::serving::ServingTls, weft_identity::serving::ServingError> {
        use weft_identity::serving;
        if let (Some(certificate), Some(key)) = (&self.tls_cert_file, &self.tls_key_file) {
            return serving::from_files(certificate, key);
        }
        let mut names = serving::default_names();
        for name in &self.tls_names {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        serving::load_or_create(&data_dir.join("tls"), purpose, &names)
    }
}

/// The TLS settings of a control-plane server from its certificate chain and key (PEM).
pub fn server_tls(certificate_pem: &str, key_pem: &str) -> ServerTlsConfig {
    ServerTlsConfig::new()
        .identity(Identity::from_pem(certificate_pem, key_pem))
        .timeout(HANDSHAKE_TIMEOUT)
}

/// An error and its causes, `outer: inner: innermost` (tonic's own message is just
/// "transport error").
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Capped exponential backoff with jitter between reconnects.
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            next: first,
        }
    }

    /// After a session that worked: start small again.
    pub fn reset(&mut self) {
        self.next = self.first;
    }

    /// How long to wait now (the base plus up to half of it), doubling the base for next time.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.next;
        let half = u64::try_from(base.as_millis() / 2).unwrap_or(u64::MAX);
        self.next = (self.next * 2).min(self.max);
        base + Duration::from_millis(fastrand::u64(0..=half))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let first = backoff.next_delay();
        assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(150));
        for _ in 0..10 {
            backoff.next_delay();
        }
        let capped = backoff.next_delay();
        assert!(capped >= Duration::from_secs(1) && capped <= Duration::from_millis(1500));
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(150));
    }

    #[test]
    fn clients_refuse_plaintext_addresses_and_empty_cas() {
        let ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let error = ControlClient::new("http://127.0.0.1:5685", "--global-address", ca, "t")
            .err()
            .unwrap();
        assert!(
            error.contains("--global-address must start with https://"),
            "{error}"
        );
        let error = ControlClient::new("https://127.0.0.1:5685", "--global-address", "", "t")
            .err()
            .unwrap();
        assert!(error.contains("no PEM certificate"), "{error}");
        let error = ControlClient::new("https://127.0.0.1:5685", "--global-address", ca, "a\nb")
            .err()
            .unwrap();
        assert!(error.contains("token"), "{error}");
    }
}
