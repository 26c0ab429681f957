//! The message list of the webmail, as a mail client shows it: one row per
//! message with the sender's name, the time it was sent (`14:32` today,
//! `hier`, `12 nov.` this year, `12/11/2025` before, in Paris time), the
//! subject and the first words of the text, its size (Ko, Mo); unread
//! messages in bold; marks for attachments, health documents, patients,
//! follow-up and answered.
//!
//! The rows sit in one form with the bulk actions the visitor's rights
//! allow (mark read or unread, move, delete: [`super::actions`]), each with
//! a checkbox: it all works without JavaScript; the portal's script adds
//! keyboard shortcuts and "select all".

use maud::{Markup, html};
use mss_core::civil::{paris_midnight, paris_offset};
use mss_core::{Civil, Right, Rights};
use mss_http::percent_encode;
use mss_store::{Folder, Mailbox, now_unix};

use super::compose::compose_path;
use super::listing::{Listing, Order, Summary};
use super::mail::{folder_label, french_date, french_size, is_special, mail_path};
use super::patients::patients_path;

/// The French abbreviations of the months, as `12 nov.` writes them.
const MONTHS: [&str; 12] =
    ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."];

/// When a message was sent, as a list shows it, `now` being the time of
/// the page: the time for today, `hier`, the day and month this year, the
/// full date before (and for a date after today: a clock set wrong).
pub fn short_date(at: i64, now: i64) -> String {
    let today = Civil::paris(now);
    let midnight = paris_midnight(today.year, today.month, today.day);
    let yesterday = paris_midnight(today.year, today.month, today.day - 1);
    let tomorrow = paris_midnight(today.year, today.month, today.day + 1);
    let sent = Civil::paris(at);
    if (midnight..tomorrow).contains(&at) {
        format!("{:02}:{:02}", sent.hour, sent.minute)
    } else if (yesterday..midnight).contains(&at) {
        "hier".to_string()
    } else if sent.year == today.year && at < midnight {
        let month = usize::try_from(sent.month - 1).unwrap_or_default();
        format!("{} {}", sent.day, MONTHS[month.min(11)])
    } else {
        format!("{:02}/{:02}/{:04}", sent.day, sent.month, sent.year)
    }
}

/// `2026-11-12T14:32:00+01:00`: a `<time>`'s machine-readable value, in
/// Paris time with its offset.
pub fn iso_paris(at: i64) -> String {
    let c = Civil::paris(at);
    let offset = paris_offset(at) / 3600;
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+{offset:02}:00", c.year, c.month, c.day, c.hour, c.minute, c.second)
}

/// What the list is shown with: the mailbox and folder, how it is searched,
/// ordered and paged, and the message open beside it, if any.
pub struct View<'a> {
    pub mailbox: &'a Mailbox,
    pub folders: &'a [Folder],
    pub current: &'a Folder,
    pub query: &'a str,
    pub order: Order,
    pub rights: Rights,
    pub csrf: &'a str,
    /// The UID of the message in the reading pane.
    pub open: Option<u32>,
    pub now: i64,
}

impl<'a> View<'a> {
    /// The list of `current` in `mailbox` (with the visitor's `rights`, its
    /// `folders`), searched for `query` in the order `tri` names (see
    /// [`Order::parse`]), the message `open` beside it; dated now.
    pub fn of(
        (mailbox, rights, folders): (&'a Mailbox, Rights, &'a [Folder]),
        current: &'a Folder,
        (query, tri): (&'a str, Option<&str>),
        csrf: &'a str,
        open: Option<u32>,
    ) -> Self {
        View { mailbox, folders, current, query, order: Order::parse(tri), rights, csrf, open, now: now_unix() }
    }

    /// The query string keeping the search, order and page of the list.
    pub fn kept(&self, page: usize) -> String {
        let mut kept = Vec::new();
        if !self.query.is_empty() {
            kept.push(format!("q={}", percent_encode(self.query)));
        }
        if self.order != Order::Newest {
            kept.push(format!("tri={}", self.order.as_str()));
        }
        if page > 1 {
            kept.push(format!("page={page}"));
        }
        if kept.is_empty() { String::new() } else { format!("?{}", kept.join("&")) }
    }

    /// Where a row leads: the message (the list kept beside it), or the
    /// draft to take up.
    fn open_link(&self, uid: u32, page: usize) -> String {
        let own = self.mailbox.address.to_string();
        if is_special(self.current, "\\Drafts") {
            format!("{}?brouillon={uid}", compose_path(&own))
        } else {
            format!("{}/{}/{uid}{}", mail_path(&own), percent_encode(&self.current.name), self.kept(page))
        }
    }
}

/// The bulk actions `rights` allow, as (value, label).
fn bulk_actions(rights: Rights) -> Vec<(&'static str, &'static str)> {
    let mut actions = Vec::new();
    if rights.has(Right::MarkSeen) {
        actions.extend([("lu", "Marquer comme lu"), ("non-lu", "Marquer comme non lu")]);
    }
    if rights.has(Right::SetFlags) {
        actions.push(("suivi", "Marquer pour suivi"));
    }
    actions
}

/// The list, its bulk actions and its pages.
pub fn list(view: &View<'_>, listing: &Listing) -> Markup {
    let own = view.mailbox.address.to_string();
    let may_delete = view.rights.has(Right::Delete) && view.rights.has(Right::Write);
    let actions = bulk_actions(view.rights);
    let selectable = may_delete || !actions.is_empty();
    let label = folder_label(view.current);
    let page_link = |p: usize| {
        let kept = view.kept(p);
        let join = if kept.is_empty() { '?' } else { '&' };
        format!("{}{kept}{join}dossier={}", mail_path(&own), percent_encode(&view.current.name))
    };
    html! {
        @if listing.summaries.is_empty() {
            @if view.query.is_empty() { p { "Ce dossier est vide." } }
        } @else {
            form method="post" action=(format!("{}/lot", mail_path(&own))) id="lot" class="lot" {
                input type="hidden" name="csrf" value=(view.csrf);
                input type="hidden" name="dossier" value=(view.current.name);
                input type="hidden" name="q" value=(view.query);
                input type="hidden" name="tri" value=(view.order.as_str());
                input type="hidden" name="page" value=(listing.page);
                @if selectable {
                    div class="barre-lot" role="group" aria-label="Actions sur les messages sélectionnés" {
                        @for (value, text) in &actions {
                            button type="submit" name="action" value=(value) class="secondaire" { (text) }
                        }
                        @if may_delete {
                            div class="champ ligne" {
                                label for="lot-vers" class="masque" { "Déplacer les messages sélectionnés vers" }
                                select id="lot-vers" name="vers" {
                                    @for f in view.folders.iter().filter(|f| f.id != view.current.id) {
                                        option value=(f.name) { (folder_label(f)) }
                                    }
                                }
                                button type="submit" name="action" value="deplacer" class="secondaire" { "Déplacer" }
                            }
                            button type="submit" name="action" value="supprimer" class="danger" { "Supprimer" }
                        }
                    }
                }
                ul class="messages" aria-label=(format!("Messages du dossier {label}")) {
                    @for s in &listing.summaries { (row(view, s, listing.page, selectable)) }
                }
            }
            @if listing.pages > 1 {
                nav aria-label="Pages" class="pagination" {
                    ul {
                        @if listing.page > 1 { li { a href=(page_link(listing.page - 1)) { "Page précédente" } } }
                        li { "Page " (listing.page) " sur " (listing.pages) }
                        @if listing.page < listing.pages { li { a href=(page_link(listing.page + 1)) { "Page suivante" } } }
                    }
                }
            }
        }
    }
}

/// One message of the list.
fn row(view: &View<'_>, s: &Summary, page: usize, selectable: bool) -> Markup {
    let unread = !s.meta.has_flag("\\Seen");
    let uid = s.meta.uid;
    let subject = if s.subject.is_empty() { "(sans objet)" } else { s.subject.as_str() };
    let open = view.open == Some(uid);
    html! {
        li class=[unread.then_some("non-lu")] {
            @if selectable {
                input type="checkbox" name="m" value=(uid) id=(format!("m-{uid}")) class="choix-message";
                label for=(format!("m-{uid}")) class="masque" { "Sélectionner « " (subject) " »" }
            }
            a class="resume" href=(view.open_link(uid, page)) aria-current=[open.then_some("true")] data-uid=(uid) {
                span class="de" title=[s.from_address.as_deref()] {
                    @if unread { span class="masque" { "Non lu, " } }
                    (s.from)
                }
                span class="objet" { (subject) }
                @if !s.preview.is_empty() { span class="apercu" { (s.preview) } }
            }
            (marks(view, s))
        }
    }
}

/// Beside a message, as Outlook shows it: when it was sent, its size,
/// then its marks (attachments, health document, patient, follow-up,
/// answered), each named for screen readers.
fn marks(view: &View<'_>, s: &Summary) -> Markup {
    let flagged = s.meta.has_flag("\\Flagged");
    let answered = s.meta.has_flag("\\Answered");
    html! {
        span class="marques" {
            time class="quand" datetime=(iso_paris(s.date)) title=(french_date(s.date)) { (short_date(s.date, view.now)) }
            span class="taille" { (french_size(s.meta.size)) }
            @if s.document { span class="pastille document" { "Document de santé" } }
            @else if s.attachments > 0 {
                span class="pastille" title="Pièce jointe" {
                    svg class="icone-pj" viewBox="0 0 24 24" aria-hidden="true" focusable="false" {
                        path fill="currentColor" d="M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10z" {}
                    }
                    span class="masque" { @if s.attachments == 1 { "Pièce jointe" } @else { (s.attachments) " pièces jointes" } }
                }
            }
            @if let Some(ins) = &s.patient {
                a class="marque-patient" href=(format!("{}/{ins}", patients_path(&view.mailbox.address.to_string()))) { "Conversation patient" }
            }
            @if flagged { span class="pastille suivi" { "Suivi" } }
            @if answered { span class="pastille" { "Répondu" } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_a_mail_client_shows_them() {
        // Wednesday 2 December 2026, 10:15 in Paris (09:15 UTC).
        let now = 1_796_202_900;
        assert_eq!(french_date(now), "02/12/2026 à 10:15");
        assert_eq!(short_date(now - 3600, now), "09:15");
        // 00:05 today in Paris is still today, though it is yesterday in UTC.
        assert_eq!(short_date(now - (10 * 3600 + 10 * 60), now), "00:05");
        assert_eq!(short_date(now - (10 * 3600 + 20 * 60), now), "hier");
        assert_eq!(short_date(now - 2 * 86_400, now), "30 nov.");
        assert_eq!(short_date(now - 300 * 86_400, now), "5 févr.");
        assert_eq!(short_date(now - 400 * 86_400, now), "28/10/2025");
        // Tomorrow: a sender's clock ahead.
        assert_eq!(short_date(now + 86_400, now), "03/12/2026");
        assert_eq!(iso_paris(now), "2026-12-02T10:15:00+01:00");
        assert_eq!(iso_paris(1_783_000_000), "2026-07-02T15:46:40+02:00");
    }
}
