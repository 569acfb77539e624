//! The device's links to the server: TLS through rustls (ring), verified against the
//! public roots, or — when the device was given a pin — against exactly that key, which
//! is how a kelurahan office with a self-signed certificate stays safe from a man in
//! the middle. Verification is never turned off. Plain `http://` is refused for every
//! host but this machine, before any lookup or connection.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::home::DeviceError;

pub const PLAIN_HTTP_REFUSED: &str = "plain http:// is only allowed to this machine; use https://";

/// Refuses an address the password and the households must not travel to: plain
/// `http://` to anything but loopback, or no `https://`/`http://` at all.
pub fn check_server_url(server: &str) -> Result<(), DeviceError> {
    let url = reqwest::Url::parse(server.trim())
        .map_err(|e| DeviceError::Invalid(format!("server address `{server}`: {e}")))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let local = match url.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
                Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
                None => false,
            };
            if local {
                Ok(())
            } else {
                Err(DeviceError::Invalid(PLAIN_HTTP_REFUSED.into()))
            }
        }
        _ => Err(DeviceError::Invalid(
            "the server address must start with https://".into(),
        )),
    }
}

/// HTTP clients, one for the public roots and one per pin.
pub struct Clients {
    roots: reqwest::Client,
    pinned: Mutex<HashMap<String, reqwest::Client>>,
}

impl Clients {
    pub fn new() -> Clients {
        Clients {
            roots: builder().build().unwrap_or_default(),
            pinned: Mutex::new(HashMap::new()),
        }
    }

    /// The client for `server`, trusting `pin` when given.
    pub fn for_server(
        &self,
        server: &str,
        pin: Option<&str>,
    ) -> Result<reqwest::Client, DeviceError> {
        check_server_url(server)?;
        let Some(pin) = pin else {
            return Ok(self.roots.clone());
        };
        let pin = jemput_core::pin::parse_pin(pin).map_err(DeviceError::Invalid)?;
        let mut pinned = self
            .pinned
            .lock()
            .map_err(|_| DeviceError::Invalid("TLS client state is damaged".into()))?;
        if let Some(c) = pinned.get(&pin) {
            return Ok(c.clone());
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| DeviceError::Invalid(format!("TLS: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedKey {
                pin: pin.clone(),
                provider,
            }))
            .with_no_client_auth();
        let client = builder()
            .use_preconfigured_tls(config)
            .build()
            .map_err(|e| DeviceError::Invalid(format!("TLS: {e}")))?;
        pinned.insert(pin, client.clone());
        Ok(client)
    }
}

impl Default for Clients {
    fn default() -> Self {
        Clients::new()
    }
}

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .https_only(false)
        .tcp_nodelay(true)
        // A redirect could send the password elsewhere, even to plain http://.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(15))
        // A link that drops for seconds stalls a request; one silent for 30 s is dead:
        // give up on it and retry (committed pages stay committed). The total bound
        // only stops a trickle that never ends.
        .read_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(600))
}

/// Trusts the one certificate key whose SubjectPublicKeyInfo hashes to the pin (the
/// handshake's signature still proves the server holds that key).
#[derive(Debug)]
struct PinnedKey {
    pin: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedKey {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match jemput_core::pin::pin_of_certificate(end_entity) {
            Some(p) if p == self.pin => Ok(ServerCertVerified::assertion()),
            _ => Err(rustls::Error::General(
                "the server's certificate does not match the pinned key".into(),
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_this_machine() {
        for ok in [
            "https://kelurahan.example.id",
            "http://127.0.0.1:8080",
            "http://127.9.9.9",
            "http://localhost:8080",
            "http://[::1]:8080",
        ] {
            assert!(check_server_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:8080",
            "http://kelurahan.example.id",
            "http://localhost.example.id",
            "http://[::2]",
        ] {
            let e = check_server_url(bad).expect_err(bad).to_string();
            assert_eq!(e, PLAIN_HTTP_REFUSED, "{bad}");
        }
        assert!(check_server_url("ftp://x").is_err());
        assert!(check_server_url("not a url").is_err());
    }
}
