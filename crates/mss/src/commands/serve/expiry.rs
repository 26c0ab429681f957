//! Certificates about to expire: our operator certificate (and its chain)
//! and the trust anchors, looked at when `mss serve` starts and twice a day:
//! one expiring within [`WARN_DAYS`] days is logged as a warning, an expired
//! one as an error; `/metrics` shows each one's end of validity
//! (`mss_certificate_expiry_seconds`).

use std::time::Duration;

use mss_store::now_unix;

use crate::config::DataDir;
use crate::error::{CliError, failed};

/// How far ahead an expiry is warned about.
pub const WARN_DAYS: i64 = 30;
/// How often the certificates are looked at again.
const EVERY: Duration = Duration::from_secs(12 * 3600);

/// A certificate we depend on: what it is, its subject, its `notAfter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    pub role: &'static str,
    pub subject: String,
    pub not_after: i64,
}

/// The certificates of `[tls] certificate` (role `operator`, then
/// `chain`) and `[tls] trust_anchors` (role `anchor`).
pub fn expiries(data: &DataDir) -> Result<Vec<Expiry>, CliError> {
    let mut out = Vec::new();
    for (path, first, rest) in
        [(&data.config.tls.certificate, "operator", "chain"), (&data.config.tls.trust_anchors, "anchor", "anchor")]
    {
        let path = data.resolve(path);
        let pem = std::fs::read_to_string(&path).map_err(|e| failed(path.display(), e))?;
        let certificates = mss_trust::pki::expiries_of_pem(&pem).map_err(|e| failed(path.display(), e))?;
        for (i, (subject, not_after)) in certificates.into_iter().enumerate() {
            out.push(Expiry { role: if i == 0 { first } else { rest }, subject, not_after });
        }
    }
    Ok(out)
}

/// Logs what expires soon or has expired, as of `now`; returns how many.
pub fn warn(expiries: &[Expiry], now: i64) -> usize {
    let mut said = 0;
    for e in expiries {
        let days = (e.not_after - now).div_euclid(86_400);
        if e.not_after <= now {
            tracing::error!(role = e.role, subject = %e.subject, "certificate expired: peers will refuse it");
        } else if days < WARN_DAYS {
            tracing::warn!(role = e.role, subject = %e.subject, days, "certificate expires soon: renew it");
        } else {
            continue;
        }
        said += 1;
    }
    said
}

/// Looks now, then twice a day, until the task is dropped.
pub async fn watch(expiries: Vec<Expiry>) {
    loop {
        warn(&expiries, now_unix());
        tokio::time::sleep(EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_expires_within_thirty_days_or_has_expired_is_said() {
        let now = 1_800_000_000;
        let cert = |role, days: i64| Expiry { role, subject: "CN=x".into(), not_after: now + days * 86_400 };
        assert_eq!(warn(&[cert("operator", 400), cert("anchor", 3000)], now), 0);
        assert_eq!(warn(&[cert("operator", 29), cert("anchor", -1), cert("chain", 31)], now), 2);
    }
}
