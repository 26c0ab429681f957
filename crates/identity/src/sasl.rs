//! SASL responses shared by submission and IMAP, after base64 decoding:
//! the two mechanisms that carry a bearer token, XOAUTH2 (Google's format)
//! and OAUTHBEARER (RFC 7628); PLAIN (RFC 4616) with the token as password
//! where the configuration allows it (development clients that know no
//! OAuth); and EXTERNAL (RFC 4422 appendix A).

/// The mechanisms that carry a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerMechanism {
    XOAuth2,
    OAuthBearer,
    /// Development only: the token as the PLAIN password.
    Plain,
}

/// What the client sent: the token, and the user it claims to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerCredentials {
    pub user: Option<String>,
    pub token: String,
}

/// Longest SASL response accepted, base64 included.
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024;

/// Reads a decoded response of a bearer mechanism.
pub fn decode_bearer(mechanism: BearerMechanism, response: &[u8]) -> Result<BearerCredentials, &'static str> {
    if response.len() > MAX_RESPONSE_BYTES {
        return Err("response too long");
    }
    let text = std::str::from_utf8(response).map_err(|_| "not UTF-8")?;
    if mechanism == BearerMechanism::Plain {
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
        BearerMechanism::OAuthBearer => {
            let gs2 = fields.next().ok_or("empty response")?;
            gs2.split(',').find_map(|part| part.strip_prefix("a=")).map(str::to_string)
        }
        BearerMechanism::XOAuth2 | BearerMechanism::Plain => None,
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

/// SASL EXTERNAL: the optional authorization identity; nothing means
/// "whoever the certificate says".
pub fn decode_external(response: &[u8]) -> Result<Option<String>, &'static str> {
    if response.len() > MAX_RESPONSE_BYTES {
        return Err("response too long");
    }
    let authzid = std::str::from_utf8(response).map_err(|_| "not UTF-8")?;
    Ok(Some(authzid.to_string()).filter(|a| !a.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_mechanisms_carry_the_token() {
        let x = decode_bearer(BearerMechanism::XOAuth2, b"user=alice@ours.test\x01auth=Bearer abc.def.ghi\x01\x01")
            .unwrap();
        assert_eq!(x, BearerCredentials { user: Some("alice@ours.test".into()), token: "abc.def.ghi".into() });
        let o = decode_bearer(
            BearerMechanism::OAuthBearer,
            b"n,a=alice@ours.test,\x01host=mss.ours.test\x01port=587\x01auth=Bearer abc.def.ghi\x01\x01",
        )
        .unwrap();
        assert_eq!(o, x);
    }

    #[test]
    fn external_carries_an_optional_authorization_identity() {
        assert_eq!(decode_external(b""), Ok(None));
        assert_eq!(decode_external(b"app@ours.test"), Ok(Some("app@ours.test".into())));
        assert!(decode_external(b"\xff").is_err());
    }

    #[test]
    fn plain_carries_the_token_as_password() {
        let p = decode_bearer(BearerMechanism::Plain, b"\0alice@ours.test\0abc.def.ghi").unwrap();
        assert_eq!(p, BearerCredentials { user: Some("alice@ours.test".into()), token: "abc.def.ghi".into() });
    }

    #[test]
    fn malformed_responses_are_errors() {
        assert!(decode_bearer(BearerMechanism::XOAuth2, b"\xff\xfe").is_err());
        assert!(decode_bearer(BearerMechanism::XOAuth2, b"user=a\x01\x01").is_err());
        assert!(decode_bearer(BearerMechanism::XOAuth2, b"user=a\x01auth=Basic x\x01\x01").is_err());
        assert!(decode_bearer(BearerMechanism::Plain, b"\0a\0").is_err());
        assert!(decode_bearer(BearerMechanism::Plain, b"a\0b").is_err());
        assert!(decode_bearer(BearerMechanism::XOAuth2, &vec![b'A'; MAX_RESPONSE_BYTES + 4]).is_err());
    }
}
