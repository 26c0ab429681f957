//! A small HTTP/1.1 client for the national services mss calls: Pro Santé
//! Connect (discovery, JWKS, token, userinfo; it is the HTTP client
//! openidconnect calls) and the ANS directory API (FHIR). One connection per
//! request, TLS with the public web roots (plus any configured anchors),
//! bounded time and response size. Nothing here decides what to trust in a
//! response: callers check what they receive.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, pki_types::ServerName};

/// Largest response read, in bytes.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(15);

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

async fn round_trip<I>(io: I, request: http::Request<Full<Bytes>>) -> Result<http::Response<Vec<u8>>, HttpError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let protocol = |e: hyper::Error| HttpError::Protocol(e.to_string());
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.map_err(protocol)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender.send_request(request).await.map_err(protocol)?;
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, MAX_RESPONSE_BYTES)
        .collect()
        .await
        .map_err(|e| HttpError::Protocol(format!("response body: {e}")))?
        .to_bytes();
    Ok(http::Response::from_parts(parts, body.to_vec()))
}
