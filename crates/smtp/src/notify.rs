//! What a sender asks of delivery status notifications (RFC 3461, the SMTP
//! DSN extension): `NOTIFY` and `ORCPT` on each RCPT, `RET` and `ENVID` on
//! MAIL. They are kept as given with the message (`mss_store::Dsn`,
//! `RecipientDsn`), passed to the next hop when it offers DSN, and decide
//! the reports we write: a failure report unless `NOTIFY=NEVER`, a success
//! report ("delivered" here, or "relayed" to a hop without DSN) when
//! `NOTIFY` names `SUCCESS`.

use mss_core::Domain;
use mss_store::{Dsn, RecipientDsn, Store, StoreError};

use crate::outbound::deliver_report;
use crate::outbound::dsn::{Action, Reported, report};
use smtp_proto::{
    MAIL_RET_FULL, MAIL_RET_HDRS, RCPT_NOTIFY_DELAY, RCPT_NOTIFY_FAILURE, RCPT_NOTIFY_NEVER, RCPT_NOTIFY_SUCCESS,
};

/// The longest ENVID or ORCPT kept (RFC 3461 §4.4: 100 characters for
/// ENVID; ORCPT is an address).
const MAX_PARAMETER: usize = 500;

/// The message's parameters, from MAIL's flags and ENVID.
pub fn message_dsn(flags: u64, envid: Option<&str>) -> Dsn {
    let ret = if flags & MAIL_RET_FULL != 0 {
        Some("FULL")
    } else if flags & MAIL_RET_HDRS != 0 {
        Some("HDRS")
    } else {
        None
    };
    Dsn { ret: ret.map(str::to_string), envid: envid.map(bounded) }
}

/// A recipient's parameters, from RCPT's flags and ORCPT.
pub fn recipient_dsn(flags: u64, orcpt: Option<&str>) -> RecipientDsn {
    let notify = if flags & RCPT_NOTIFY_NEVER != 0 {
        Some("NEVER".to_string())
    } else {
        let named: Vec<&str> =
            [(RCPT_NOTIFY_SUCCESS, "SUCCESS"), (RCPT_NOTIFY_FAILURE, "FAILURE"), (RCPT_NOTIFY_DELAY, "DELAY")]
                .into_iter()
                .filter(|(bit, _)| flags & bit != 0)
                .map(|(_, name)| name)
                .collect();
        (!named.is_empty()).then(|| named.join(","))
    };
    // smtp-proto gives ORCPT's address without its type: rfc822 is the one
    // type an MSSanté address has.
    let orcpt = orcpt.map(|o| if o.contains(';') { bounded(o) } else { bounded(&format!("rfc822;{o}")) });
    RecipientDsn { notify, orcpt }
}

fn bounded(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(MAX_PARAMETER).collect()
}

/// Whether a report of `what` (`SUCCESS`, `FAILURE`) is wanted: as asked,
/// or by default failures only (RFC 3461 §4.1).
pub fn wants(dsn: &RecipientDsn, what: &str) -> bool {
    match &dsn.notify {
        None => what == "FAILURE",
        Some(notify) => notify.split(',').any(|n| n.trim().eq_ignore_ascii_case(what)),
    }
}

/// RFC 3461 §4: `+XX` for what xtext does not carry as is.
pub fn xtext(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if (33..=126).contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

/// The MAIL FROM parameters for a next hop that offers DSN.
pub fn mail_parameters(dsn: &Dsn) -> String {
    let mut out = String::new();
    if let Some(ret) = dsn.ret.as_deref().filter(|r| matches!(*r, "FULL" | "HDRS")) {
        out.push_str(&format!(" RET={ret}"));
    }
    if let Some(envid) = &dsn.envid {
        out.push_str(&format!(" ENVID={}", xtext(envid)));
    }
    out
}

/// The RCPT TO parameters for a next hop that offers DSN.
pub fn rcpt_parameters(dsn: &RecipientDsn) -> String {
    let mut out = String::new();
    if let Some(notify) = &dsn.notify {
        let known: Vec<&str> = notify
            .split(',')
            .map(str::trim)
            .filter(|n| ["NEVER", "SUCCESS", "FAILURE", "DELAY"].iter().any(|k| k.eq_ignore_ascii_case(n)))
            .collect();
        if !known.is_empty() {
            out.push_str(&format!(" NOTIFY={}", known.join(",").to_ascii_uppercase()));
        }
    }
    if let Some(orcpt) = dsn.orcpt.as_deref().filter(|o| o.contains(';')) {
        let (kind, address) = orcpt.split_once(';').unwrap_or_default();
        out.push_str(&format!(" ORCPT={};{}", kind.trim(), xtext(address.trim())));
    }
    out
}

/// After a message is put in our mailboxes of `delivered` (address and
/// what the sender asked for each): the success report to `sender` for
/// those that asked (`NOTIFY=SUCCESS`), unless the sender is null. Returns
/// whether a report was queued (the outbound worker is to be woken).
pub async fn report_delivered(
    store: &Store,
    (reporting_host, domain): (&str, &Domain),
    sender: &str,
    message: &[u8],
    delivered: &[(String, RecipientDsn)],
    dsn: &Dsn,
    expires_at: i64,
) -> Result<bool, StoreError> {
    let asked: Vec<Reported<'_>> = delivered
        .iter()
        .filter(|(_, d)| wants(d, "SUCCESS"))
        .map(|(address, d)| Reported { address, action: Action::Delivered, reply: "", orcpt: d.orcpt.as_deref() })
        .collect();
    if asked.is_empty() || sender.is_empty() {
        return Ok(false);
    }
    let report = report(reporting_host, domain.as_str(), sender, message, &asked, dsn);
    deliver_report(store, domain, sender, &report, expires_at).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_kept_as_asked_and_passed_on_encoded() {
        let r = recipient_dsn(RCPT_NOTIFY_SUCCESS | RCPT_NOTIFY_FAILURE, Some("bob+x@peer.test"));
        assert_eq!(r.orcpt.as_deref(), Some("rfc822;bob+x@peer.test"), "the type smtp-proto leaves out");
        assert_eq!(r.notify.as_deref(), Some("SUCCESS,FAILURE"));
        assert!(wants(&r, "SUCCESS") && wants(&r, "FAILURE"));
        assert_eq!(rcpt_parameters(&r), " NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+2Bx@peer.test");
        let never = recipient_dsn(RCPT_NOTIFY_NEVER, None);
        assert!(!wants(&never, "FAILURE") && !wants(&never, "SUCCESS"));
        let default = RecipientDsn::default();
        assert!(wants(&default, "FAILURE") && !wants(&default, "SUCCESS"));
        assert_eq!(rcpt_parameters(&default), "");
        let m = message_dsn(MAIL_RET_HDRS, Some("id 1=2"));
        assert_eq!(mail_parameters(&m), " RET=HDRS ENVID=id+201+3D2");
        assert_eq!(xtext("a\r\nb"), "a+0D+0Ab");
    }
}
