//! Application passwords (`mss_store::app_passwords`): a secret given once
//! to its maker, `mss-` and 32 random base-32 characters (160 bits), kept
//! only as its BLAKE3 hash: a secret that long cannot be guessed, so a fast
//! hash is enough and lookups are by hash. Logins with one are
//! [`crate::login::by_app_password`].

use crate::TokenError;
use crate::session::random_u128;

/// Every application password starts so: a client's password that does
/// not is not one (a bearer token, in development).
pub const PREFIX: &str = "mss-";

const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// A new secret, and its hash to keep.
pub fn generate() -> Result<(String, String), TokenError> {
    // 160 random bits, five at a time, in an alphabet easy to type on a
    // phone (no l, o, 0 or 1 to confuse).
    let (mut high, mut low) = (random_u128()?, random_u128()?);
    let mut secret = String::with_capacity(32);
    for i in 0..32 {
        let bits = if i < 16 { &mut high } else { &mut low };
        secret.push(ALPHABET[(*bits & 31) as usize] as char);
        *bits >>= 5;
    }
    let secret = format!("{PREFIX}{secret}");
    let hash = hash(&secret);
    Ok((secret, hash))
}

/// The hash kept for `secret`.
pub fn hash(secret: &str) -> String {
    blake3::hash(secret.trim().as_bytes()).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_kept_by_hash() {
        let (a, hash_a) = generate().unwrap();
        let (b, _) = generate().unwrap();
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 32, "{a}");
        assert_ne!(a, b);
        assert_eq!(hash(&a), hash_a);
        assert_eq!(hash(&format!(" {a}\n")), hash_a, "pasted with spaces");
        assert!(a[PREFIX.len()..].bytes().all(|c| ALPHABET.contains(&c)));
    }
}
