//! "Suivi de l'envoi": what became of a sent message, recipient by
//! recipient, as the webmail shows it on the message: queued (and why it
//! waits), accepted by the recipient's operator, delivered here, failed
//! (with the reply, explained in French for Mon espace santé's refusals),
//! then read, integrated by the recipient's software, or not integrated
//! with the ANS error code, from the receipts that came back
//! (`mss_documents::acks`).

use maud::{Markup, html};
use mss_core::EmailAddress;
use mss_core::patients::GatewayRefusal;
use mss_documents::acks;
use mss_store::{DeliveryState, DeliveryStatus, Mailbox, MessageMeta, Receipt, StoreError};

use super::mail::french_date;
use crate::Web;

/// What one recipient's state reads as.
fn state_text(status: &DeliveryStatus) -> String {
    let at = french_date(status.updated_at);
    match status.state {
        DeliveryState::Queued if status.reply.is_empty() => "En attente d'envoi".to_string(),
        DeliveryState::Queued => {
            format!("Nouvel essai prévu : le serveur du destinataire a répondu « {} »", status.reply)
        }
        DeliveryState::Accepted => format!("Remis au serveur du destinataire le {at}"),
        DeliveryState::Delivered => format!("Distribué le {at}"),
        DeliveryState::Failed => {
            let patient = status.recipient.parse::<EmailAddress>().ok().filter(|a| a.domain().is_patient());
            let status_code = status.reply.split_whitespace().nth(1).unwrap_or_default();
            match patient.and(GatewayRefusal::from_status(status_code)) {
                Some(refusal) => format!("Échec le {at} : {}", refusal.explained()),
                None => format!("Échec le {at} : « {} »", status.reply),
            }
        }
    }
}

fn receipt_text(receipt: &Receipt) -> String {
    let ack = acks::parse(receipt.disposition.as_deref().unwrap_or_default());
    format!("{} le {}", ack.explained(), french_date(receipt.at))
}

/// The section, or nothing for a message that was not sent from here.
pub async fn section(
    web: &Web,
    mailbox: &Mailbox,
    meta: &MessageMeta,
    message_id: Option<&str>,
) -> Result<Markup, StoreError> {
    let statuses = web.store.meta.delivery_status(&meta.blob).await?;
    let receipts = match message_id {
        Some(id) => web.store.meta.receipts(mailbox.id, &[id.to_string()]).await?,
        None => Vec::new(),
    };
    if statuses.is_empty() && receipts.is_empty() {
        return Ok(html! {});
    }
    let of = |recipient: &str| -> Vec<&Receipt> {
        receipts.iter().filter(|r| r.from.as_deref().is_some_and(|f| f.eq_ignore_ascii_case(recipient))).collect()
    };
    let others: Vec<&Receipt> = receipts
        .iter()
        .filter(|r| !statuses.iter().any(|s| r.from.as_deref().is_some_and(|f| f.eq_ignore_ascii_case(&s.recipient))))
        .collect();
    Ok(html! {
        h2 { "Suivi de l'envoi" }
        div class="tableau" {
            table {
                caption { "Ce qu'est devenu le message, destinataire par destinataire" }
                thead { tr { th scope="col" { "Destinataire" } th scope="col" { "Suivi" } } }
                tbody {
                    @for status in &statuses {
                        tr {
                            th scope="row" data-label="Destinataire" { (status.recipient) }
                            td data-label="Suivi" {
                                (state_text(status))
                                @for receipt in of(&status.recipient) { br; (receipt_text(receipt)) }
                            }
                        }
                    }
                    @for receipt in others {
                        tr {
                            th scope="row" data-label="Destinataire" { (receipt.from.clone().unwrap_or_default()) }
                            td data-label="Suivi" { (receipt_text(receipt)) }
                        }
                    }
                }
            }
        }
    })
}
