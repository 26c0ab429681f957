//! Login with a CPS card (Carte de Professionnel de Santé): the server
//! gives a one-time challenge; the card signs it with its authentication
//! key through PKCS#11 ([`card`]); the server checks that the certificate
//! chains to the configured CPS CA, that the signature over the challenge
//! verifies with the certificate's key, and reads the holder from the
//! certificate (or, in a browser, the card's certificate comes from a TLS
//! handshake, whose signature is the proof: [`CpsAuthority::verify_presented`]): `CN` the national id, `GIVENNAME`/`SURNAME` the names, `OU`
//! the FINESS of the structure when present.

pub mod card;

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mss_core::{Finess, NationalId};
use mss_store::{LoginFlowStore, NewLoginFlow};
use mss_trust::{PeerCertificate, ServerTrust};
use ring::signature::{ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use rustls_pki_types::CertificateDer;

use crate::Person;
use crate::flows::{LIMITS, client_group};
use crate::session::random_token;

/// Seconds a challenge may be answered in.
pub const CHALLENGE_TTL: i64 = 120;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpsError {
    #[error("unknown, used or expired challenge")]
    Challenge,
    #[error("certificate refused: {0}")]
    Certificate(String),
    #[error("the signature does not verify with the certificate's key")]
    Signature,
    #[error("certificate holder unreadable: {0}")]
    Holder(String),
    #[error("too many logins in progress")]
    Busy,
    #[error("challenges unavailable: {0}")]
    Unavailable(String),
}

/// The kind of CPS challenges in the store's login flows.
const FLOW_KIND: &str = "cps";

/// Checks CPS logins. Challenges are kept in the store
/// ([`LoginFlowStore`]): the signed answer may reach any node.
pub struct CpsAuthority {
    trust: ServerTrust,
    challenges: Arc<dyn LoginFlowStore>,
}

impl CpsAuthority {
    /// `trust`: judges chains against the CPS CA.
    pub fn new(trust: ServerTrust, challenges: Arc<dyn LoginFlowStore>) -> Self {
        Self { trust, challenges }
    }

    /// A new one-time challenge (base64url of 32 random bytes) for the
    /// card reader at `client`.
    pub async fn challenge(&self, now: i64, client: IpAddr) -> Result<String, CpsError> {
        let challenge = random_token(32).map_err(|_| CpsError::Busy)?;
        let client = client_group(client);
        let flow = NewLoginFlow {
            kind: FLOW_KIND,
            key: &challenge,
            secret: "",
            client: &client,
            now,
            expires_at: now + CHALLENGE_TTL,
        };
        let kept =
            self.challenges.begin_login_flow(&flow, LIMITS).await.map_err(|e| CpsError::Unavailable(e.to_string()))?;
        if !kept {
            return Err(CpsError::Busy);
        }
        Ok(challenge)
    }

    /// The person a signed challenge proves. `chain`: the card's
    /// certificate first (DER), then any intermediates.
    pub async fn verify(
        &self,
        challenge: &str,
        chain: &[Vec<u8>],
        signature: &[u8],
        now: i64,
    ) -> Result<Person, CpsError> {
        let taken = self.challenges.take_login_flow(FLOW_KIND, challenge, now).await;
        if taken.map_err(|e| CpsError::Unavailable(e.to_string()))?.is_none() {
            return Err(CpsError::Challenge);
        }
        let subject = self.judge(chain)?;
        let leaf = chain.first().ok_or_else(|| CpsError::Certificate("no certificate".into()))?;
        verify_signature(leaf, challenge.as_bytes(), signature)?;
        holder(&subject)
    }

    /// The person whose card presented `chain` in a TLS handshake (the
    /// handshake's signature proved the card holds the key; rustls checked
    /// it): the chain is judged again here, and the holder read.
    pub fn verify_presented(&self, chain: &[Vec<u8>]) -> Result<Person, CpsError> {
        holder(&self.judge(chain)?)
    }

    fn judge(&self, chain: &[Vec<u8>]) -> Result<mss_trust::DistinguishedName, CpsError> {
        let certificates: Vec<CertificateDer<'_>> = chain.iter().map(|c| CertificateDer::from(c.as_slice())).collect();
        match self.trust.judge(Some(&certificates)) {
            PeerCertificate::Trusted { subject } => Ok(subject),
            PeerCertificate::Untrusted { reason } => Err(CpsError::Certificate(reason)),
            PeerCertificate::Missing => Err(CpsError::Certificate("no certificate".into())),
        }
    }
}

/// The holder a card certificate's subject names.
fn holder(subject: &mss_trust::DistinguishedName) -> Result<Person, CpsError> {
    let national_id: NationalId = subject
        .get("CN")
        .ok_or_else(|| CpsError::Holder("no CN".into()))?
        .parse()
        .map_err(|e| CpsError::Holder(format!("CN is not a national id: {e}")))?;
    let name = |kind: &str| {
        subject
            .get(kind)
            .map(str::to_string)
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| CpsError::Holder(format!("no {kind}")))
    };
    let finess = subject.get("OU").and_then(|ou| ou.parse::<Finess>().ok()).map(|f| f.as_str().to_string());
    Ok(Person {
        national_id,
        first_name: name("GIVENNAME")?,
        last_name: name("SURNAME")?,
        finess: finess.into_iter().collect(),
    })
}

/// ECDSA P-256 (fixed-size r||s, as PKCS#11 returns it) or RSA PKCS#1 v1.5,
/// both over SHA-256 of `message`, with the certificate's public key.
fn verify_signature(certificate: &[u8], message: &[u8], signature: &[u8]) -> Result<(), CpsError> {
    let (_, cert) = x509_parser::parse_x509_certificate(certificate)
        .map_err(|e| CpsError::Certificate(format!("unreadable: {e}")))?;
    let spki = cert.public_key();
    let key = spki.subject_public_key.data.as_ref();
    let algorithm = spki.algorithm.algorithm.to_id_string();
    let verified = match algorithm.as_str() {
        "1.2.840.10045.2.1" => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key).verify(message, signature),
        "1.2.840.113549.1.1.1" => UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key).verify(message, signature),
        other => return Err(CpsError::Certificate(format!("key algorithm {other} not supported"))),
    };
    verified.map_err(|_| CpsError::Signature)
}

/// Base64url without padding, the encoding of challenges and signatures.
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim()).ok()
}
