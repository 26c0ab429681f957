//! The card side of a CPS login, as a professional's workstation does it:
//! open the card's PKCS#11 token with the PIN, find the authentication
//! certificate and the private key with the same `CKA_ID`, and sign the
//! server's challenge (SHA-256, then ECDSA or RSA PKCS#1 v1.5 on the card).
//! Tested with SoftHSM2 holding a test CPS made by `mss pki issue-cps`.

use std::path::Path;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("PKCS#11: {0}")]
    Pkcs11(#[from] cryptoki::error::Error),
    #[error("no token labelled {0:?} (is the card in the reader?)")]
    NoToken(String),
    #[error("no authentication certificate with its private key on the card")]
    NoKey,
}

/// What the card gives for one challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedChallenge {
    /// The authentication certificate, DER.
    pub certificate: Vec<u8>,
    pub signature: Vec<u8>,
}

/// Signs `challenge` with the card in token `label` of `module`.
pub fn sign_challenge(module: &Path, label: &str, pin: &str, challenge: &[u8]) -> Result<SignedChallenge, CardError> {
    let pkcs11 = Pkcs11::new(module)?;
    pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
    let result = sign_with(&pkcs11, label, pin, challenge);
    let _ = pkcs11.finalize();
    result
}

fn sign_with(pkcs11: &Pkcs11, label: &str, pin: &str, challenge: &[u8]) -> Result<SignedChallenge, CardError> {
    let slot = pkcs11
        .get_slots_with_token()?
        .into_iter()
        .find(|slot| pkcs11.get_token_info(*slot).is_ok_and(|info| info.label().trim() == label))
        .ok_or_else(|| CardError::NoToken(label.to_string()))?;
    let session = pkcs11.open_ro_session(slot)?;
    session.login(UserType::User, Some(&AuthPin::new(pin.into())))?;
    for certificate in session.find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE)])? {
        let attributes = session.get_attributes(certificate, &[AttributeType::Value, AttributeType::Id])?;
        let (mut der, mut id) = (None, None);
        for attribute in attributes {
            match attribute {
                Attribute::Value(v) => der = Some(v),
                Attribute::Id(i) => id = Some(i),
                _ => {}
            }
        }
        let (Some(der), Some(id)) = (der, id) else { continue };
        let keys = session.find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::Id(id)])?;
        let Some(&key) = keys.first() else { continue };
        let key_type = session.get_attributes(key, &[AttributeType::KeyType])?.into_iter().find_map(|a| match a {
            Attribute::KeyType(t) => Some(t),
            _ => None,
        });
        let signature = if key_type == Some(KeyType::EC) {
            // Raw ECDSA on the digest: every card supports it.
            let digest = ring::digest::digest(&ring::digest::SHA256, challenge);
            session.sign(&Mechanism::Ecdsa, key, digest.as_ref())?
        } else {
            session.sign(&Mechanism::Sha256RsaPkcs, key, challenge)?
        };
        let _ = session.logout();
        return Ok(SignedChallenge { certificate: der, signature });
    }
    Err(CardError::NoKey)
}
