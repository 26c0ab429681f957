//! A small HTTP/1.1 client for the national services mss calls: Pro Santé
//! Connect (discovery, JWKS, token, userinfo; it is the HTTP client
//! openidconnect calls) and the ANS directory API (FHIR). One connection per
//! request, TLS with the public web roots (plus any configured anchors),
//! bounded time and response size; and downloads (the Annuaire Santé
//! extraction), streamed to a file, bounded in size and idle time. Nothing here decides what to trust in a
//! response: callers check what they receive.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, pki_types::ServerName};

/// Largest response read, in bytes.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(15);
/// Redirects a download follows at most.
const MAX_REDIRECTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("bad URL: {0}")]
    Url(String),
    #[error("connection: {0}")]
    Connect(String),
    #[error("HTTP: {0}")]
    Protocol(String),
    #[error("timed out")]
    Timeout,
}

/// A request on its way.
pub type Sending = std::pin::Pin<Box<dyn Future<Output = Result<http::Response<Vec<u8>>, HttpError>> + Send>>;

/// Sends requests; cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    tls: Arc<rustls::ClientConfig>,
}

impl HttpClient {
    /// Trusts the public web roots and `extra_anchors_pem` (a private CA).
    pub fn new(extra_anchors_pem: Option<&str>) -> Result<Self, HttpError> {
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        if let Some(pem) = extra_anchors_pem {
            for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| HttpError::Connect(format!("trust anchors: {e}")))?;
                roots.add(cert).map_err(|e| HttpError::Connect(format!("trust anchors: {e}")))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| HttpError::Connect(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self { tls: Arc::new(tls) })
    }

    /// This client as the function openidconnect calls for each request.
    pub fn transport(&self) -> impl Fn(http::Request<Vec<u8>>) -> Sending + use<> {
        let client = self.clone();
        move |request| {
            let client = client.clone();
            Box::pin(async move { client.send(request).await })
        }
    }

    pub async fn send(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, HttpError> {
        tokio::time::timeout(TIMEOUT, self.exchange(request)).await.map_err(|_| HttpError::Timeout)?
    }

    async fn exchange(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, HttpError> {
        let (parts, body) = self.open(request).await?.into_parts();
        let body = Limited::new(body, MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| HttpError::Protocol(format!("response body: {e}")))?
            .to_bytes();
        Ok(http::Response::from_parts(parts, body.to_vec()))
    }

    /// GETs `url` (following up to 5 redirects) into `to`, streamed, at most
    /// `max_bytes`, each read within `idle`; `progress` hears the bytes so
    /// far. Returns the bytes written. Anything but a 200 is an error.
    pub async fn download(
        &self,
        url: &str,
        to: &mut (impl tokio::io::AsyncWrite + Unpin),
        max_bytes: u64,
        idle: Duration,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<u64, HttpError> {
        use tokio::io::AsyncWriteExt;
        let mut url = url.to_string();
        let mut response = None;
        for _ in 0..=MAX_REDIRECTS {
            let request =
                http::Request::get(url.as_str()).body(Vec::new()).map_err(|e| HttpError::Url(e.to_string()))?;
            let got = tokio::time::timeout(TIMEOUT, self.open(request)).await.map_err(|_| HttpError::Timeout)??;
            let location = got.headers().get(http::header::LOCATION).and_then(|l| l.to_str().ok());
            match (got.status().is_redirection(), location) {
                (true, Some(next)) => url = resolve(&url, next)?,
                _ => {
                    response = Some(got);
                    break;
                }
            }
        }
        let response = response.ok_or_else(|| HttpError::Protocol(format!("more than {MAX_REDIRECTS} redirects")))?;
        if response.status() != http::StatusCode::OK {
            return Err(HttpError::Protocol(format!("{url}: {}", response.status())));
        }
        let mut body = response.into_body();
        let mut written = 0u64;
        loop {
            let frame = tokio::time::timeout(idle, body.frame()).await.map_err(|_| HttpError::Timeout)?;
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|e| HttpError::Protocol(format!("response body: {e}")))?;
            if let Ok(data) = frame.into_data() {
                written += data.len() as u64;
                if written > max_bytes {
                    return Err(HttpError::Protocol(format!("{url}: larger than {max_bytes} bytes")));
                }
                to.write_all(&data).await.map_err(|e| HttpError::Connect(format!("writing: {e}")))?;
                progress(written);
            }
        }
        to.flush().await.map_err(|e| HttpError::Connect(format!("writing: {e}")))?;
        Ok(written)
    }

    /// Connects, sends `request`, and returns the response with its body
    /// still to read.
    async fn open(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Incoming>, HttpError> {
        let uri = request.uri().clone();
        let host = uri.host().ok_or_else(|| HttpError::Url(uri.to_string()))?.to_string();
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(HttpError::Url(uri.to_string())),
        };
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = TcpStream::connect((host.as_str(), port)).await.map_err(|e| HttpError::Connect(e.to_string()))?;
        let (mut parts, body) = request.into_parts();
        // Origin form on the wire, and the Host header HTTP/1.1 requires.
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = path.parse().map_err(|_| HttpError::Url(uri.to_string()))?;
        let authority = uri.authority().map_or(host.clone(), |a| a.to_string());
        parts.headers.insert(http::header::HOST, authority.parse().map_err(|_| HttpError::Url(uri.to_string()))?);
        let request = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
        if https {
            let name = ServerName::try_from(host).map_err(|e| HttpError::Url(e.to_string()))?;
            let tls = TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| HttpError::Connect(e.to_string()))?;
            round_trip(TokioIo::new(tls), request).await
        } else {
            round_trip(TokioIo::new(tcp), request).await
        }
    }
}

async fn round_trip<I>(io: I, request: http::Request<Full<Bytes>>) -> Result<http::Response<Incoming>, HttpError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let protocol = |e: hyper::Error| HttpError::Protocol(e.to_string());
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.map_err(protocol)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender.send_request(request).await.map_err(protocol)
}

/// A redirect's `Location`, absolute (an absolute path keeps the scheme and
/// authority of `base`).
fn resolve(base: &str, location: &str) -> Result<String, HttpError> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return Ok(location.to_string());
    }
    let uri: http::Uri = base.parse().map_err(|_| HttpError::Url(base.to_string()))?;
    match (uri.scheme_str(), uri.authority(), location.starts_with('/')) {
        (Some(scheme), Some(authority), true) => Ok(format!("{scheme}://{authority}{location}")),
        _ => Err(HttpError::Url(format!("redirect to {location}"))),
    }
}

/// Percent-encodes a URL query or path value: RFC 3986's unreserved
/// characters stay, every other byte is `%XX`.
pub fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_percent_encoded() {
        assert_eq!(percent_encode("/portail/boites?a=b&c"), "%2Fportail%2Fboites%3Fa%3Db%26c");
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(percent_encode("urn:oid:1.2|8-1_~"), "urn%3Aoid%3A1.2%7C8-1_~");
    }

    #[test]
    fn redirects_resolve_against_the_request() {
        let base = "https://annuaire.test:8443/extractions/latest?x=1";
        assert_eq!(resolve(base, "/files/a.zip").unwrap(), "https://annuaire.test:8443/files/a.zip");
        assert_eq!(resolve(base, "http://cdn.test/a.zip").unwrap(), "http://cdn.test/a.zip");
        assert!(resolve(base, "a.zip").is_err(), "relative paths are not followed");
        assert!(resolve(base, "ftp://x.test/a").is_err());
    }
}
