//! The pharmacy's 5 % indicator as a use case: declaring dispensations
//! (from the API or a CSV file: checked all, kept all or none) and the
//! report of a period (per month, which dispensations counted and by which
//! exchange), with the rule of `mss_core::indicator`.

use mss_core::civil::parse_iso_datetime;
use mss_core::indicator::{Dispensation, DispensationError, Exchange, Exchanges, Period, Tally, Window};
use mss_core::{Finess, Ins, Rpps};
use mss_store::{Declared, Store, StoreError, StoredDispensation};

/// The most dispensations one declaration (an API batch, a CSV file) holds.
pub const MAX_BATCH: usize = 100_000;
/// The most errors reported for one declaration.
const MAX_ERRORS: usize = 100;

/// One dispensation as declared, before it is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declaration {
    pub id: String,
    /// ISO 8601 (`2026-11-30T14:05:00+01:00`; without offset, Paris time).
    pub date: String,
    pub patient_ins: Option<String>,
    /// Checked when given, never kept: the indicator does not need it.
    pub prescriber_rpps: Option<String>,
}

/// What is wrong with one declaration (French: the software's editor or
/// the operator reads it), by its position (from 1: a CSV line, an item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub position: usize,
    pub reason: String,
}

/// Why a declaration was not kept (nothing of it was).
#[derive(Debug, thiserror::Error)]
pub enum DeclareError {
    #[error("{} dispensation(s) refused", .0.len())]
    Rejected(Vec<Rejected>),
    #[error("more than {MAX_BATCH} dispensations in one declaration")]
    TooMany,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks one declaration.
fn check(d: &Declaration, finess: &Finess, now: i64) -> Result<Dispensation, String> {
    let at = parse_iso_datetime(&d.date)
        .ok_or_else(|| format!("date illisible « {} » (attendu : AAAA-MM-JJTHH:MM)", d.date))?;
    let patient = match d.patient_ins.as_deref().map(str::trim).filter(|i| !i.is_empty()) {
        Some(ins) => Some(
            ins.to_ascii_uppercase()
                .parse::<Ins>()
                .map_err(|_| "INS invalide (15 caractères, clé comprise)".to_string())?,
        ),
        None => None,
    };
    if let Some(rpps) = d.prescriber_rpps.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        rpps.parse::<Rpps>().map_err(|_| "RPPS du prescripteur invalide".to_string())?;
    }
    Dispensation::new(&d.id, finess.clone(), at, patient, now).map_err(|e: DispensationError| e.to_string())
}

/// Checks every declaration and keeps them all, or none when one is wrong
/// (the errors say which). The same id twice in a batch: the last wins.
pub async fn declare(
    store: &Store,
    finess: &Finess,
    declarations: &[Declaration],
    now: i64,
) -> Result<Declared, DeclareError> {
    if declarations.len() > MAX_BATCH {
        return Err(DeclareError::TooMany);
    }
    let mut kept = Vec::with_capacity(declarations.len());
    let mut rejected = Vec::new();
    for (i, d) in declarations.iter().enumerate() {
        match check(d, finess, now) {
            Ok(d) => kept.push(StoredDispensation {
                finess: finess.as_str().to_string(),
                id: d.id,
                at: d.at,
                patient_ins: d.patient.map(|i| i.as_str().to_string()),
            }),
            Err(reason) if rejected.len() < MAX_ERRORS => rejected.push(Rejected { position: i + 1, reason }),
            Err(_) => {}
        }
    }
    if !rejected.is_empty() {
        return Err(DeclareError::Rejected(rejected));
    }
    Ok(store.meta.put_dispensations(&kept).await?)
}

/// Reads a CSV file of dispensations: `id;date;ins;rpps` (`,` also
/// separates), a first line naming the columns skipped, empty lines
/// ignored. Positions are line numbers.
pub fn read_csv(text: &str) -> Result<Vec<(usize, Declaration)>, Vec<Rejected>> {
    let mut out = Vec::new();
    let mut rejected = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        let line = if n == 0 { line.trim_start_matches('\u{feff}') } else { line };
        if line.trim().is_empty() || (n == 0 && line.to_ascii_lowercase().starts_with("id")) {
            continue;
        }
        let fields: Vec<&str> = line.split([';', ',']).map(|f| f.trim().trim_matches('"')).collect();
        match fields[..] {
            [id, date, ref rest @ ..] if rest.len() <= 2 => out.push((
                n + 1,
                Declaration {
                    id: id.to_string(),
                    date: date.to_string(),
                    patient_ins: rest.first().map(|s| s.to_string()),
                    prescriber_rpps: rest.get(1).map(|s| s.to_string()),
                },
            )),
            _ if rejected.len() < MAX_ERRORS => rejected.push(Rejected {
                position: n + 1,
                reason: "ligne illisible : attendu identifiant;date;INS;RPPS".into(),
            }),
            _ => {}
        }
    }
    if rejected.is_empty() { Ok(out) } else { Err(rejected) }
}

/// Links the dispensation `id` of `finess` to the message `message_id` (its
/// `Message-ID`, brackets or not) of one of the pharmacy's mailboxes: the
/// dispensation then counts whatever its patient and time. False when there
/// is no such dispensation or no such message there.
pub async fn link(store: &Store, finess: &Finess, id: &str, message_id: &str, now: i64) -> Result<bool, StoreError> {
    let Some(message_id) = as_kept(message_id) else { return Ok(false) };
    store.meta.link_dispensation(finess.as_str(), id, &message_id, now).await
}

/// The dispensations of `finess` linked to the message `message_id`.
pub async fn linked_to(store: &Store, finess: &Finess, message_id: &str) -> Result<Vec<String>, StoreError> {
    let Some(message_id) = as_kept(message_id) else { return Ok(vec![]) };
    store.meta.dispensations_linked_to(finess.as_str(), &message_id).await
}

/// A Message-ID as the facts keep it (with its brackets), brackets given or
/// not; none when empty or too long to be one.
fn as_kept(message_id: &str) -> Option<String> {
    let bare = message_id.trim().trim_start_matches('<').trim_end_matches('>');
    (!bare.is_empty() && bare.len() <= 250).then(|| format!("<{bare}>"))
}

/// A dispensation that counted, and the exchange that made it count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub id: String,
    pub at: i64,
    pub exchanged_at: i64,
}

/// The indicator over a period: its tally, each month's, and what counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub period: Period,
    pub tally: Tally,
    pub months: Vec<(Period, Tally)>,
    pub counted: Vec<Counted>,
}

/// The report of `finess` over `period`.
pub async fn report(store: &Store, finess: &Finess, period: Period, window: Window) -> Result<Report, StoreError> {
    let (start, end) = period.bounds();
    let stored = store.meta.dispensations(finess.as_str(), start, end).await?;
    let (before, after) = (i64::from(window.before_days) * 86_400, i64::from(window.after_days) * 86_400);
    let mut exchanges: Vec<Exchange> = store
        .meta
        .patient_exchanges(finess.as_str(), start - before, end + after)
        .await?
        .into_iter()
        .map(|e| Exchange { at: e.at, patient: Some(e.ins), dispensation: None })
        .collect();
    let links = store.meta.dispensation_links(finess.as_str()).await?;
    exchanges.extend(links.into_iter().map(|(id, at)| Exchange { at, patient: None, dispensation: Some(id) }));
    let index = Exchanges::new(&exchanges);
    // One pass: each dispensation is looked up once, and counted in its
    // month and in the period.
    let mut months: Vec<(Period, Tally)> = period.month_periods().into_iter().map(|m| (m, Tally::default())).collect();
    let bounds: Vec<(i64, i64)> = months.iter().map(|(m, _)| m.bounds()).collect();
    let mut total = Tally::default();
    let mut counted = Vec::new();
    for d in stored {
        let dispensation = Dispensation {
            id: d.id,
            finess: finess.clone(),
            at: d.at,
            patient: d.patient_ins.and_then(|i| i.parse().ok()),
        };
        let hit = index.counted_by(&dispensation, window);
        total.add(hit.is_some());
        if let Some(month) = bounds.iter().position(|(from, to)| (*from..*to).contains(&dispensation.at)) {
            months[month].1.add(hit.is_some());
        }
        if let Some(i) = hit {
            counted.push(Counted { id: dispensation.id, at: dispensation.at, exchanged_at: exchanges[i].at });
        }
    }
    Ok(Report { period, tally: total, months, counted })
}

#[cfg(test)]
mod tests {
    use mss_core::MailboxKind;
    use mss_store::{NewMailbox, Placement, now_unix};

    use super::*;

    /// A pharmacy's mailbox, a message from its patient, two dispensations
    /// declared (one about the patient, one without INS), and one refused
    /// batch that keeps nothing.
    #[tokio::test]
    async fn a_dispensation_about_a_patient_who_wrote_counts_and_a_bad_batch_keeps_nothing() {
        let (store, _dir) = crate::testing::store().await;
        let finess: Finess = "750000002".parse().unwrap();
        let pharmacy = NewMailbox::of_structure(
            "gare@pharmacie.test".parse().unwrap(),
            MailboxKind::Organisational,
            finess.clone(),
            "Pharmacie de la Gare",
        );
        let pharmacy = store.meta.create_mailbox(&pharmacy).await.unwrap();
        let raw = b"From: <279035121518989@patient.mssante.fr>\r\nTo: <gare@pharmacie.test>\r\nSubject: Ordonnance\r\n\r\nx\r\n";
        store.deliver_indexed(raw, &[Placement::inbox(pharmacy.id)], Some(mss_message::stored(raw))).await.unwrap();
        let now = now_unix();
        let today = mss_core::Civil::paris(now);
        let date = format!("{:04}-{:02}-{:02}", today.year, today.month, today.day);
        let declared = [
            Declaration {
                id: "D1".into(),
                date: date.clone(),
                patient_ins: Some("279035121518989".into()),
                prescriber_rpps: None,
            },
            Declaration { id: "D2".into(), date: date.clone(), patient_ins: None, prescriber_rpps: None },
        ];
        let bad = [declared[0].clone(), Declaration { id: "D3".into(), date: "hier".into(), ..Declaration::default() }];
        match declare(&store, &finess, &bad, now).await {
            Err(DeclareError::Rejected(rejected)) => assert_eq!(rejected[0].position, 2),
            other => panic!("{other:?}"),
        }
        let month = Period::Month { year: 0, month: 1 }.containing(now);
        assert_eq!(
            report(&store, &finess, month, Window::default()).await.unwrap().tally,
            Tally::default(),
            "nothing kept"
        );
        assert_eq!(declare(&store, &finess, &declared, now).await.unwrap(), Declared { inserted: 2, replaced: 0 });
        let report = report(&store, &finess, month, Window::default()).await.unwrap();
        assert_eq!(report.tally, Tally { dispensations: 2, with_exchange: 1 });
        assert!(report.tally.reached(), "50 %");
        assert_eq!(report.counted.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["D1"]);
        assert_eq!(report.months, [(month, report.tally)]);
    }

    #[test]
    fn a_csv_file_reads_with_line_numbers_and_refuses_a_bad_line() {
        let text = "\u{feff}id;date;ins;rpps\r\nD1;2026-11-30T14:05;279035121518989;\r\n\r\nD2,2026-11-30,,\nD3;2026-11-30;;10003621892\n";
        let read = read_csv(text).unwrap();
        assert_eq!(
            read.iter().map(|(n, d)| (*n, d.id.as_str())).collect::<Vec<_>>(),
            [(2, "D1"), (4, "D2"), (5, "D3")]
        );
        assert_eq!(read[0].1.patient_ins.as_deref(), Some("279035121518989"));
        let bad = read_csv("D1;2026-11-30\nonly-one-field\n").unwrap_err();
        assert_eq!(
            bad,
            [Rejected { position: 2, reason: "ligne illisible : attendu identifiant;date;INS;RPPS".into() }]
        );
    }

    #[test]
    fn each_field_is_checked_in_french() {
        let finess: Finess = "750000002".parse().unwrap();
        let now = 1_796_000_000;
        let ok = Declaration { id: "D1".into(), date: "2026-11-30T10:00Z".into(), ..Declaration::default() };
        assert!(check(&ok, &finess, now).is_ok());
        let cases = [
            (Declaration { date: "30/11/2026".into(), ..ok.clone() }, "date illisible"),
            (Declaration { patient_ins: Some("279035121518988".into()), ..ok.clone() }, "INS invalide"),
            (Declaration { prescriber_rpps: Some("123".into()), ..ok.clone() }, "RPPS du prescripteur invalide"),
            (Declaration { date: "2027-06-01".into(), ..ok.clone() }, "date dans le futur"),
            (Declaration { id: String::new(), ..ok.clone() }, "identifiant vide"),
        ];
        for (declaration, expected) in cases {
            let reason = check(&declaration, &finess, now).unwrap_err();
            assert!(reason.contains(expected), "{reason}");
        }
    }
}
