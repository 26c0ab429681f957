//! ES256 JWTs signed with the operator's P-256 key (RFC 7515, RFC 7518 §3.4).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey,
};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Longest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// The claims of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Claims {
    /// A person's national id (session tokens), or the mailbox address the
    /// bearer acts as (development and software tokens).
    pub sub: String,
    /// Our mail domain.
    pub iss: String,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Expires at, unix seconds.
    pub exp: i64,
    /// The login session (session tokens only): revoked sessions end their
    /// tokens at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The holder's name, as Pro Santé Connect or the CPS gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// FINESS of the structures the holder works in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finess: Vec<String>,
    /// How the holder logged in: `psc` or `cps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<String>,
}

/// What every claims set this key verifies says: who issued it and until when.
pub trait Expiring {
    fn issuer(&self) -> &str;
    fn expires_at(&self) -> i64;
}

impl Expiring for Claims {
    fn issuer(&self) -> &str {
        &self.iss
    }

    fn expires_at(&self) -> i64 {
        self.exp
    }
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token: not three base64url parts")]
    Malformed,
    #[error("token: longer than {MAX_TOKEN_BYTES} bytes")]
    TooLong,
    #[error("token: algorithm is not ES256")]
    Algorithm,
    #[error("token: bad signature")]
    Signature,
    #[error("token: issued by {0}, not by this operator")]
    Issuer(String),
    #[error("token: expired")]
    Expired,
    #[error("token: key: {0}")]
    Key(String),
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
}

/// The operator's signing key, and the issuer name it signs for.
pub struct TokenKey {
    pair: EcdsaKeyPair,
    issuer: String,
}

impl TokenKey {
    /// From the operator's PKCS#8 P-256 key in PEM (`tls/server.key`).
    pub fn from_pem(key_pem: &str, issuer: &str) -> Result<Self, TokenError> {
        let der = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| TokenError::Key(e.to_string()))?;
        let PrivateKeyDer::Pkcs8(pkcs8) = der else {
            return Err(TokenError::Key("not a PKCS#8 key".into()));
        };
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.secret_pkcs8_der(), &SystemRandom::new())
                .map_err(|e| TokenError::Key(e.to_string()))?;
        Ok(Self { pair, issuer: issuer.to_string() })
    }

    /// A new random key (the PSC simulator's, tests').
    pub fn generate(issuer: &str) -> Result<Self, TokenError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|e| TokenError::Key(e.to_string()))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|e| TokenError::Key(e.to_string()))?;
        Ok(Self { pair, issuer: issuer.to_string() })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The public key as a JWK (RFC 7517, RFC 7518 §6.2), for a JWKS.
    pub fn public_jwk(&self, kid: &str) -> serde_json::Value {
        // Uncompressed point: 0x04, then X and Y on 32 bytes each.
        let point = self.pair.public_key().as_ref();
        serde_json::json!({
            "kty": "EC",
            "crv": "P-256",
            "alg": "ES256",
            "use": "sig",
            "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        })
    }

    /// A token for `subject`, valid from `now` for `ttl_seconds`.
    pub fn issue(&self, subject: &str, now: i64, ttl_seconds: i64) -> Result<String, TokenError> {
        let claims = Claims {
            sub: subject.to_string(),
            iss: self.issuer.clone(),
            iat: now,
            exp: now + ttl_seconds,
            ..Claims::default()
        };
        self.sign(&claims, None)
    }

    /// Signs any claims as an ES256 JWT (`kid` in the header when given).
    pub fn sign<T: Serialize>(&self, claims: &T, kid: Option<&str>) -> Result<String, TokenError> {
        let header = Header { alg: "ES256".into(), typ: "JWT".into(), kid: kid.map(str::to_string) };
        let signing_input = format!("{}.{}", base64_json(&header)?, base64_json(claims)?);
        let signature = self
            .pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|e| TokenError::Key(e.to_string()))?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref())))
    }

    /// The claims of a token signed by this key for this issuer and not
    /// expired at `now`.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        self.verify_as(token, now)
    }

    /// The same for claims of another shape: a token whose claims do not
    /// deserialize as `T` is malformed (so each shape is only ever taken for
    /// itself).
    pub fn verify_as<T: DeserializeOwned + Expiring>(&self, token: &str, now: i64) -> Result<T, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLong);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed);
        let signature = decode(signature)?;
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.pair.public_key().as_ref());
        public.verify(format!("{header}.{claims}").as_bytes(), &signature).map_err(|_| TokenError::Signature)?;
        let header: Header = serde_json::from_slice(&decode(header)?).map_err(|_| TokenError::Malformed)?;
        if header.alg != "ES256" {
            return Err(TokenError::Algorithm);
        }
        let claims: T = serde_json::from_slice(&decode(claims)?).map_err(|_| TokenError::Malformed)?;
        if claims.issuer() != self.issuer {
            return Err(TokenError::Issuer(claims.issuer().to_string()));
        }
        if claims.expires_at() <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// One JWT part: JSON, then base64url without padding.
fn base64_json<T: Serialize>(value: &T) -> Result<String, TokenError> {
    let json = serde_json::to_vec(value).map_err(|e| TokenError::Key(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(issuer: &str) -> TokenKey {
        let ca = mss_trust::CertificateAuthority::generate("T", "T").unwrap();
        let issued = ca
            .issue_operator(&mss_trust::OperatorIdentity {
                host: "mss.ours.test".into(),
                organisation: "O".into(),
                unit: "1".into(),
                state: "Paris (75)".into(),
            })
            .unwrap();
        TokenKey::from_pem(&issued.key_pem, issuer).unwrap()
    }

    #[test]
    fn a_token_verifies_until_it_expires() {
        let k = key("ours.test");
        let token = k.issue("alice@ours.test", 1000, 60).unwrap();
        let claims = k.verify(&token, 1059).unwrap();
        assert_eq!((claims.sub.as_str(), claims.iss.as_str(), claims.exp), ("alice@ours.test", "ours.test", 1060));
        assert_eq!(k.verify(&token, 1060), Err(TokenError::Expired));
    }

    #[test]
    fn forged_or_foreign_tokens_are_refused() {
        let k = key("ours.test");
        let token = k.issue("alice@ours.test", 1000, 60).unwrap();
        // Another key, even for the same issuer.
        assert_eq!(key("ours.test").verify(&token, 1001), Err(TokenError::Signature));
        // Same key, claims changed.
        let parts: Vec<&str> = token.split('.').collect();
        let forged_claims =
            URL_SAFE_NO_PAD.encode(br#"{"sub":"bob@ours.test","iss":"ours.test","iat":1000,"exp":9999}"#);
        let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        assert_eq!(k.verify(&forged, 1001), Err(TokenError::Signature));
        // Our key, another issuer name.
        let other = TokenKey { pair: key("x").pair, issuer: "other.test".into() };
        let theirs = other.issue("alice@ours.test", 1000, 60).unwrap();
        assert!(matches!(
            TokenKey { pair: other.pair, issuer: "ours.test".into() }.verify(&theirs, 1001),
            Err(TokenError::Issuer(_))
        ));
        assert_eq!(k.verify("a.b", 1001), Err(TokenError::Malformed));
        assert_eq!(k.verify(&"a".repeat(5000), 1001), Err(TokenError::TooLong));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_tokens_never_panic(s in ".{0,300}") {
            let k = key("ours.test");
            proptest::prop_assert!(k.verify(&s, 0).is_err());
        }
    }
}
