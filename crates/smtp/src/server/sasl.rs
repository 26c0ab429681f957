//! SASL for submission (RFC 4954): base64 on the wire around the shared
//! decoders of `mss_identity::sasl` (XOAUTH2, OAUTHBEARER, development PLAIN,
//! EXTERNAL).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub use mss_identity::BearerCredentials;
use mss_identity::sasl::{self, BearerMechanism};

/// Longest SASL response accepted, base64 included.
pub const MAX_RESPONSE_BYTES: usize = sasl::MAX_RESPONSE_BYTES;

/// Decodes a base64 response for `mechanism` (smtp-proto's AUTH_* flag).
pub fn decode(mechanism: u64, response: &str) -> Result<BearerCredentials, &'static str> {
    let mechanism = match mechanism {
        smtp_proto::AUTH_PLAIN => BearerMechanism::Plain,
        smtp_proto::AUTH_XOAUTH2 => BearerMechanism::XOAuth2,
        smtp_proto::AUTH_OAUTHBEARER => BearerMechanism::OAuthBearer,
        _ => return Err("unsupported mechanism"),
    };
    sasl::decode_bearer(mechanism, &decode_base64(response)?)
}

/// SASL EXTERNAL (RFC 4422 appendix A): the optional authorization
/// identity; `=` or nothing means "whoever the certificate says".
pub fn decode_external(response: &str) -> Result<Option<String>, &'static str> {
    let response = response.trim();
    if response.is_empty() || response == "=" {
        return Ok(None);
    }
    sasl::decode_external(&decode_base64(response)?)
}

fn decode_base64(response: &str) -> Result<Vec<u8>, &'static str> {
    if response.len() > MAX_RESPONSE_BYTES {
        return Err("response too long");
    }
    STANDARD.decode(response.trim()).map_err(|_| "not base64")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn both_mechanisms_carry_the_token() {
        let x = decode(smtp_proto::AUTH_XOAUTH2, &b64("user=alice@ours.test\u{1}auth=Bearer abc.def.ghi\u{1}\u{1}"))
            .unwrap();
        assert_eq!(x, BearerCredentials { user: Some("alice@ours.test".into()), token: "abc.def.ghi".into() });
        let o = decode(
            smtp_proto::AUTH_OAUTHBEARER,
            &b64("n,a=alice@ours.test,\u{1}host=mss.ours.test\u{1}port=587\u{1}auth=Bearer abc.def.ghi\u{1}\u{1}"),
        )
        .unwrap();
        assert_eq!(o, x);
    }

    #[test]
    fn external_carries_an_optional_authorization_identity() {
        assert_eq!(decode_external(""), Ok(None));
        assert_eq!(decode_external("="), Ok(None));
        assert_eq!(decode_external(&b64("app@ours.test")), Ok(Some("app@ours.test".into())));
        assert!(decode_external("!!").is_err());
    }

    #[test]
    fn plain_carries_the_token_as_password() {
        let p = decode(smtp_proto::AUTH_PLAIN, &b64("\0alice@ours.test\0abc.def.ghi")).unwrap();
        assert_eq!(p, BearerCredentials { user: Some("alice@ours.test".into()), token: "abc.def.ghi".into() });
    }

    #[test]
    fn malformed_responses_are_errors() {
        assert!(decode(smtp_proto::AUTH_XOAUTH2, "!!!").is_err());
        assert!(decode(smtp_proto::AUTH_XOAUTH2, &b64("user=a\u{1}\u{1}")).is_err());
        assert!(decode(smtp_proto::AUTH_XOAUTH2, &b64("user=a\u{1}auth=Basic x\u{1}\u{1}")).is_err());
        assert!(decode(smtp_proto::AUTH_PLAIN, &b64("\0a\0")).is_err());
        assert!(decode(smtp_proto::AUTH_PLAIN, &b64("a\0b")).is_err());
        assert!(decode(smtp_proto::AUTH_LOGIN, &b64("x")).is_err());
        assert!(decode(smtp_proto::AUTH_XOAUTH2, &"A".repeat(MAX_RESPONSE_BYTES + 4)).is_err());
    }
}
