//! The pharmacy's 5 % indicator (the seed: « 240 € remis au PS si 5 % des
//! délivrances donnent lieu à des échanges mail avec usage de la messagerie
//! sécurisée de santé »): which dispensations count, and whether a period
//! reaches the threshold.
//!
//! A dispensation counts when an MSSanté exchange of the pharmacy's
//! mailboxes concerns it: one explicitly linked to it (from the webmail or
//! the API), or one concerning its patient (a message to or from the
//! patient's `patient.mssante.fr` address, a document or `X-MSS-INS`
//! naming the patient: the message's patient INS) within a [`Window`]
//! around it (by default 30 days before to 30 days after: the prescription
//! a patient sent ahead, the follow-up after). A dispensation without INS
//! counts only by an explicit link. Periods are calendar months, quarters
//! and years in Paris time.
//!
//! Pure: the dispensations and exchanges come from the caller.

use std::collections::HashMap;

use crate::civil::{Civil, paris_midnight};
use crate::ids::{Finess, Ins};

/// The share of dispensations with an exchange that earns the bonus, in
/// basis points (5 %), and the bonus in euros.
pub const THRESHOLD_BASIS_POINTS: u32 = 500;
pub const BONUS_EUROS: u32 = 240;

/// The longest dispensation id (the pharmacy software's own).
pub const MAX_ID_CHARS: usize = 64;

/// How far from a dispensation an exchange about its patient counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub before_days: u32,
    pub after_days: u32,
}

impl Default for Window {
    fn default() -> Self {
        Self { before_days: 30, after_days: 30 }
    }
}

impl Window {
    fn contains(self, dispensed_at: i64, exchanged_at: i64) -> bool {
        let (before, after) = (i64::from(self.before_days) * 86_400, i64::from(self.after_days) * 86_400);
        (dispensed_at - before..=dispensed_at + after).contains(&exchanged_at)
    }
}

/// A dispensation, as the pharmacy software declares it: nothing the
/// indicator does not need (no product, no prescriber name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispensation {
    pub id: String,
    pub finess: Finess,
    /// Unix seconds.
    pub at: i64,
    pub patient: Option<Ins>,
}

/// Why a declared dispensation is refused (French: the API and the import
/// say it to the pharmacy's software editor and operator).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispensationError {
    #[error("identifiant vide ou de plus de {MAX_ID_CHARS} caractères, ou avec des caractères de contrôle")]
    Id,
    #[error("date dans le futur")]
    Future,
    #[error("date antérieure à 2000")]
    TooOld,
}

impl Dispensation {
    /// A dispensation, checked: an id of 1 to [`MAX_ID_CHARS`] printable
    /// characters, a date between 2000 and `now` (plus a day of clock slack).
    pub fn new(id: &str, finess: Finess, at: i64, patient: Option<Ins>, now: i64) -> Result<Self, DispensationError> {
        let id = id.trim();
        if id.is_empty() || id.chars().count() > MAX_ID_CHARS || id.chars().any(char::is_control) {
            return Err(DispensationError::Id);
        }
        if at > now + 86_400 {
            return Err(DispensationError::Future);
        }
        if at < 946_684_800 {
            return Err(DispensationError::TooOld);
        }
        Ok(Self { id: id.to_string(), finess, at, patient })
    }
}

/// An exchange of the pharmacy's mailboxes: when, about which patient, and
/// the dispensation it was explicitly linked to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub at: i64,
    pub patient: Option<String>,
    pub dispensation: Option<String>,
}

/// The exchanges, indexed for [`counted_by`].
pub struct Exchanges<'a> {
    by_patient: HashMap<&'a str, Vec<(i64, usize)>>,
    by_link: HashMap<&'a str, usize>,
}

impl<'a> Exchanges<'a> {
    pub fn new(exchanges: &'a [Exchange]) -> Self {
        let mut by_patient: HashMap<&str, Vec<(i64, usize)>> = HashMap::new();
        let mut by_link = HashMap::new();
        for (i, e) in exchanges.iter().enumerate() {
            if let Some(patient) = e.patient.as_deref() {
                by_patient.entry(patient).or_default().push((e.at, i));
            }
            if let Some(id) = e.dispensation.as_deref() {
                by_link.entry(id).or_insert(i);
            }
        }
        for times in by_patient.values_mut() {
            times.sort_unstable();
        }
        Self { by_patient, by_link }
    }

    /// The exchange that makes `dispensation` count (its index), if any:
    /// an explicit link first, else the nearest in time about its patient
    /// within `window`.
    pub fn counted_by(&self, dispensation: &Dispensation, window: Window) -> Option<usize> {
        if let Some(&i) = self.by_link.get(dispensation.id.as_str()) {
            return Some(i);
        }
        let times = self.by_patient.get(dispensation.patient.as_ref()?.as_str())?;
        // The first exchange at or after the window's start.
        let start = dispensation.at - i64::from(window.before_days) * 86_400;
        let first = times.partition_point(|&(at, _)| at < start);
        times[first..]
            .iter()
            .take_while(|&&(at, _)| window.contains(dispensation.at, at))
            .min_by_key(|&&(at, _)| (at - dispensation.at).abs())
            .map(|&(_, i)| i)
    }
}

/// What a period adds up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub dispensations: u64,
    pub with_exchange: u64,
}

impl Tally {
    /// Counts one more dispensation, with an exchange or not.
    pub fn add(&mut self, with_exchange: bool) {
        self.dispensations += 1;
        self.with_exchange += u64::from(with_exchange);
    }

    /// The share with an exchange, in basis points (rounded down).
    pub fn basis_points(self) -> u32 {
        if self.dispensations == 0 {
            return 0;
        }
        u32::try_from(self.with_exchange.saturating_mul(10_000) / self.dispensations).unwrap_or(u32::MAX)
    }

    /// Whether the threshold is reached (and the bonus earned).
    pub fn reached(self) -> bool {
        self.dispensations > 0
            && self.with_exchange.saturating_mul(10_000) >= u64::from(THRESHOLD_BASIS_POINTS) * self.dispensations
    }

    /// `4,25 %`.
    pub fn share_text(self) -> String {
        let bp = self.basis_points();
        format!("{},{:02} %", bp / 100, bp % 100)
    }
}

/// A calendar period, in Paris time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Month { year: i64, month: i64 },
    Quarter { year: i64, quarter: i64 },
    Year { year: i64 },
}

impl Period {
    /// `2026-11`, `2026-T4`, `2026`.
    pub fn parse(text: &str) -> Option<Period> {
        let text = text.trim();
        let year = |y: &str| y.parse::<i64>().ok().filter(|y| (2000..=2100).contains(y));
        if let Some((y, q)) = text.split_once("-T") {
            let quarter = q.parse::<i64>().ok().filter(|q| (1..=4).contains(q))?;
            return Some(Period::Quarter { year: year(y)?, quarter });
        }
        if let Some((y, m)) = text.split_once('-') {
            let month = m.parse::<i64>().ok().filter(|m| (1..=12).contains(m))?;
            return Some(Period::Month { year: year(y)?, month });
        }
        Some(Period::Year { year: year(text)? })
    }

    /// The period holding `at`, of the same kind as `self`.
    pub fn containing(self, at: i64) -> Period {
        let c = Civil::paris(at);
        match self {
            Period::Month { .. } => Period::Month { year: c.year, month: c.month },
            Period::Quarter { .. } => Period::Quarter { year: c.year, quarter: (c.month - 1) / 3 + 1 },
            Period::Year { .. } => Period::Year { year: c.year },
        }
    }

    /// Its first and last month.
    fn months(self) -> ((i64, i64), (i64, i64)) {
        match self {
            Period::Month { year, month } => ((year, month), (year, month)),
            Period::Quarter { year, quarter } => ((year, quarter * 3 - 2), (year, quarter * 3)),
            Period::Year { year } => ((year, 1), (year, 12)),
        }
    }

    /// Its bounds, unix seconds: start included, end excluded.
    pub fn bounds(self) -> (i64, i64) {
        let ((y0, m0), (y1, m1)) = self.months();
        (paris_midnight(y0, m0, 1), paris_midnight(y1, m1 + 1, 1))
    }

    /// The months it spans, as periods.
    pub fn month_periods(self) -> Vec<Period> {
        let ((y0, m0), (y1, m1)) = self.months();
        let (first, last) = (y0 * 12 + m0 - 1, y1 * 12 + m1 - 1);
        (first..=last).map(|n| Period::Month { year: n.div_euclid(12), month: n.rem_euclid(12) + 1 }).collect()
    }

    /// `2026-11`, `2026-T4`, `2026`: what [`Period::parse`] reads.
    pub fn key(self) -> String {
        match self {
            Period::Month { year, month } => format!("{year:04}-{month:02}"),
            Period::Quarter { year, quarter } => format!("{year:04}-T{quarter}"),
            Period::Year { year } => format!("{year:04}"),
        }
    }

    /// `novembre 2026`, `4e trimestre 2026`, `année 2026`.
    pub fn label(self) -> String {
        const MONTHS: [&str; 12] = [
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ];
        match self {
            Period::Month { year, month } => format!("{} {year}", MONTHS[(month - 1).clamp(0, 11) as usize]),
            Period::Quarter { year, quarter: 1 } => format!("1er trimestre {year}"),
            Period::Quarter { year, quarter } => format!("{quarter}e trimestre {year}"),
            Period::Year { year } => format!("année {year}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_796_000_000;

    fn finess() -> Finess {
        "750000002".parse().unwrap()
    }

    fn dispensation(id: &str, at: i64, ins: Option<&str>) -> Dispensation {
        Dispensation::new(id, finess(), at, ins.map(|i| i.parse().unwrap()), NOW + 365 * DAY).unwrap()
    }

    fn exchange(at: i64, patient: Option<&str>, link: Option<&str>) -> Exchange {
        Exchange { at, patient: patient.map(str::to_string), dispensation: link.map(str::to_string) }
    }

    #[test]
    fn an_exchange_counts_about_the_patient_within_the_window_or_by_an_explicit_link() {
        let jeanne = "279035121518989";
        let exchanges = [
            exchange(NOW - 40 * DAY, Some(jeanne), None),
            exchange(NOW - 10 * DAY, Some(jeanne), None),
            exchange(NOW - 5 * DAY, None, Some("D3")),
        ];
        let index = Exchanges::new(&exchanges);
        let w = Window::default();
        assert_eq!(index.counted_by(&dispensation("D1", NOW, Some(jeanne)), w), Some(1), "the nearest in the window");
        assert_eq!(index.counted_by(&dispensation("D2", NOW + 25 * DAY, Some(jeanne)), w), None, "35 days after");
        assert_eq!(index.counted_by(&dispensation("D3", NOW - 100 * DAY, None), w), Some(2), "linked explicitly");
        assert_eq!(index.counted_by(&dispensation("D4", NOW, None), w), None, "no INS, no link");
        let narrow = Window { before_days: 5, after_days: 0 };
        assert_eq!(index.counted_by(&dispensation("D5", NOW - 9 * DAY, Some(jeanne)), narrow), Some(1), "a day before");
        assert_eq!(
            index.counted_by(&dispensation("D6", NOW - 12 * DAY, Some(jeanne)), narrow),
            None,
            "after it: 0 days"
        );
    }

    #[test]
    fn dispensations_are_checked() {
        let f = finess();
        assert_eq!(Dispensation::new("", f.clone(), NOW, None, NOW), Err(DispensationError::Id));
        assert_eq!(Dispensation::new(&"x".repeat(65), f.clone(), NOW, None, NOW), Err(DispensationError::Id));
        assert_eq!(Dispensation::new("a\nb", f.clone(), NOW, None, NOW), Err(DispensationError::Id));
        assert_eq!(Dispensation::new("D", f.clone(), NOW + 2 * DAY, None, NOW), Err(DispensationError::Future));
        assert_eq!(Dispensation::new("D", f.clone(), 0, None, NOW), Err(DispensationError::TooOld));
        assert!(Dispensation::new(" D1 ", f, NOW, None, NOW).is_ok_and(|d| d.id == "D1"));
    }

    #[test]
    fn the_threshold_is_five_percent_inclusive() {
        assert!(Tally { dispensations: 100, with_exchange: 5 }.reached());
        assert!(!Tally { dispensations: 100, with_exchange: 4 }.reached());
        assert!(!Tally { dispensations: 0, with_exchange: 0 }.reached());
        assert!(Tally { dispensations: 21, with_exchange: 2 }.reached(), "9.5 %");
        assert!(!Tally { dispensations: 41, with_exchange: 2 }.reached(), "4.87 %");
        assert_eq!(Tally { dispensations: 400, with_exchange: 17 }.share_text(), "4,25 %");
    }

    #[test]
    fn periods_read_write_and_bound_in_paris_time() {
        for text in ["2026-11", "2026-T4", "2026", "2026-T1"] {
            assert_eq!(Period::parse(text).unwrap().key(), text);
        }
        for bad in ["2026-13", "2026-T5", "1999", "abc", "2026-", ""] {
            assert_eq!(Period::parse(bad), None, "{bad}");
        }
        let november = Period::parse("2026-11").unwrap();
        let (start, end) = november.bounds();
        assert_eq!(Civil::paris(start), Civil { year: 2026, month: 11, day: 1, hour: 0, minute: 0, second: 0 });
        assert_eq!(Civil::paris(end), Civil { year: 2026, month: 12, day: 1, hour: 0, minute: 0, second: 0 });
        assert_eq!(Period::parse("2026-T4").unwrap().month_periods().len(), 3);
        assert_eq!(Period::parse("2026").unwrap().month_periods()[11].key(), "2026-12");
        assert_eq!(Period::Year { year: 2026 }.containing(start).key(), "2026");
        assert_eq!(Period::Quarter { year: 0, quarter: 1 }.containing(start).label(), "4e trimestre 2026");
        assert_eq!(Period::parse("2026-T1").unwrap().label(), "1er trimestre 2026");
        assert_eq!(november.label(), "novembre 2026");
    }

    proptest::proptest! {
        #[test]
        fn the_tally_is_a_count_of_independently_checked_dispensations(
            dispensed in proptest::collection::vec((0i64..400, proptest::bool::ANY), 0..80),
            exchanged in proptest::collection::vec((0i64..400, proptest::bool::ANY), 0..40),
        ) {
            let jeanne = "279035121518989";
            let base = NOW - 500 * DAY;
            let dispensations: Vec<Dispensation> = dispensed
                .iter()
                .enumerate()
                .map(|(i, &(day, known))| dispensation(&format!("D{i}"), base + day * DAY, known.then_some(jeanne)))
                .collect();
            let exchanges: Vec<Exchange> = exchanged
                .iter()
                .map(|&(day, about)| exchange(base + day * DAY, about.then_some(jeanne), None))
                .collect();
            let window = Window::default();
            let index = Exchanges::new(&exchanges);
            let mut tally = Tally::default();
            for d in &dispensations {
                tally.add(index.counted_by(d, window).is_some());
            }
            // An independent reading of the rule: a dispensation with the
            // INS counts when some exchange about the patient is within 30 days.
            let expected = dispensations
                .iter()
                .filter(|d| d.patient.is_some() && exchanges.iter().any(|e| e.patient.is_some() && (e.at - d.at).abs() <= 30 * DAY))
                .count() as u64;
            proptest::prop_assert_eq!(tally, Tally { dispensations: dispensations.len() as u64, with_exchange: expected });
            proptest::prop_assert!(tally.with_exchange <= tally.dispensations);
        }
    }
}
