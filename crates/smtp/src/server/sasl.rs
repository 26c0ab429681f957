//! SASL for submission (RFC 4954): the two mechanisms that carry a bearer
//! token, XOAUTH2 (Google's format) and OAUTHBEARER (RFC 7628); PLAIN with
//! the token as password where the configuration allows it (development
//! clients that know no OAuth, such as swaks); and EXTERNAL.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// What the client sent: the token, and the user it claims to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerCredentials {
    pub user: Option<String>,
    pub token: String,
}

/// Longest SASL response accepted, base64 included.
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024;

/// Decodes a base64 response for `mechanism` (smtp-proto's AUTH_* flag).
pub fn decode(mechanism: u64, response: &str) -> Result<BearerCredentials, &'static str> {
    if response.len() > MAX_RESPONSE_BYTES {
        return Err("response too long");
    }
    let bytes = STANDARD.decode(response.trim()).map_err(|_| "not base64")?;
    let text = String::from_utf8(bytes).map_err(|_| "not UTF-8")?;
    if mechanism == smtp_proto::AUTH_PLAIN {
        // RFC 4616: authzid NUL authcid NUL passwd; the password is the token.
        let mut parts = text.split('\0');
        let (Some(_authzid), Some(user), Some(token), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("not authzid NUL authcid NUL password");
        };
        if token.is_empty() {
            return Err("no token");
        }
        return Ok(BearerCredentials { user: Some(user.to_string()).filter(|u| !u.is_empty()), token: token.into() });
    }
    let mut fields = text.split('\u{1}');
    let mut user = match mechanism {
        // RFC 7628 §3.1: a GS2 header "n,a=user," before the first ^A.
        smtp_proto::AUTH_OAUTHBEARER => {
            let gs2 = fields.next().ok_or("empty response")?;
            gs2.split(',').find_map(|part| part.strip_prefix("a=")).map(str::to_string)
        }
        smtp_proto::AUTH_XOAUTH2 => None,
        _ => return Err("unsupported mechanism"),
    };
    let mut token = None;
    for field in fields {
        if let Some(u) = field.strip_prefix("user=") {
            user = Some(u.to_string());
        } else if let Some(auth) = field.strip_prefix("auth=") {
            let bearer =
                auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("bearer ")).ok_or("not a bearer token")?;
            token = Some(bearer.trim().to_string());
        }
    }
    let token = token.filter(|t| !t.is_empty()).ok_or("no token")?;
    Ok(BearerCredentials { user: user.filter(|u| !u.is_empty()), token })
}

/// SASL EXTERNAL (RFC 4422 appendix A): the optional authorization
/// identity; `=` or nothing means "whoever the certificate says".
pub fn decode_external(response: &str) -> Result<Option<String>, &'static str> {
    let response = response.trim();
    if response.is_empty() || response == "=" {
        return Ok(None);
    }
    if response.len() > MAX_RESPONSE_BYTES {
        return Err("response too long");
    }
    let bytes = STANDARD.decode(response).map_err(|_| "not base64")?;
    let authzid = String::from_utf8(bytes).map_err(|_| "not UTF-8")?;
    Ok(Some(authzid).filter(|a| !a.is_empty()))
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
