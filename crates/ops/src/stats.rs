//! The operator's monthly usage report for the ANS (`mss stats export`),
//! and the figures the metrics endpoint shows: the store's counts
//! (`mss_store::Usage`) over a calendar month in Paris time, in one
//! documented shape ([`UsageReport`], `docs/stats.md`, format
//! `mss-usage/1`).

use std::collections::BTreeMap;

use mss_core::Domain;
use mss_core::indicator::Period;
use mss_store::{Store, StoreError, Usage};
use serde::Serialize;

/// The format name and version of [`UsageReport`].
pub const FORMAT: &str = "mss-usage/1";

/// A month of usage, as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageReport {
    pub format: &'static str,
    pub operator: String,
    /// `2026-11`.
    pub month: String,
    /// Its bounds, unix seconds (start included, end excluded), Paris time.
    pub from: i64,
    pub to: i64,
    /// Mailboxes now, by type then state.
    pub mailboxes: BTreeMap<String, BTreeMap<String, u64>>,
    pub mailboxes_created: u64,
    pub mailboxes_closed: u64,
    pub messages: Messages,
    pub documents_sent: u64,
    /// Successful logins by method.
    pub logins: BTreeMap<String, u64>,
}

/// Messages of the month, by direction (recipients for what was sent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Messages {
    pub sent_inside: u64,
    pub sent_to_operators: u64,
    pub sent_to_patients: u64,
    pub sent_failed: u64,
    pub received_from_operators: u64,
    pub received_from_patients: u64,
}

/// The report of `month` (a [`Period::Month`]).
pub async fn month(store: &Store, operator: &Domain, month: Period) -> Result<UsageReport, StoreError> {
    let (from, to) = month.bounds();
    let usage = store.meta.usage(from, to).await?;
    Ok(report(operator, month, from, to, usage))
}

fn report(operator: &Domain, month: Period, from: i64, to: i64, usage: Usage) -> UsageReport {
    let mut mailboxes: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (kind, state, n) in usage.mailboxes {
        mailboxes.entry(kind).or_default().insert(state, n);
    }
    UsageReport {
        format: FORMAT,
        operator: operator.to_string(),
        month: month.key(),
        from,
        to,
        mailboxes,
        mailboxes_created: usage.mailboxes_created,
        mailboxes_closed: usage.mailboxes_closed,
        messages: Messages {
            sent_inside: usage.sent_inside,
            sent_to_operators: usage.sent_to_operators,
            sent_to_patients: usage.sent_to_patients,
            sent_failed: usage.sent_failed,
            received_from_operators: usage.received_from_operators,
            received_from_patients: usage.received_from_patients,
        },
        documents_sent: usage.documents_sent,
        logins: usage.logins.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_month_reports_in_the_documented_shape() {
        let (store, _dir) = crate::testing::store().await;
        let november = Period::parse("2026-11").unwrap();
        let report = month(&store, &crate::testing::domain(), november).await.unwrap();
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["format"], "mss-usage/1");
        assert_eq!(json["month"], "2026-11");
        assert_eq!(json["to"].as_i64().unwrap() - json["from"].as_i64().unwrap(), 30 * 86_400);
        for key in ["mailboxes", "mailboxes_created", "mailboxes_closed", "messages", "documents_sent", "logins"] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(json["messages"]["sent_to_patients"], 0);
    }
}
