//! The ANS directory API's publication format: a FHIR PATCH (FHIRPath
//! Patch, a `Parameters` resource) that adds the mailbox to the `telecom` of
//! the person (`Practitioner`, by national id) or the structure
//! (`Organization`, by FINESS), with the MSSanté extensions. The ANS answers
//! 404 when no record matches and 412 when several do.

use mss_core::MailboxKind;
use mss_store::Mailbox;

/// `telecom` extension: the kind of email address.
pub const EMAIL_TYPE_EXTENSION: &str =
    "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type";
/// `telecom` extension: the MSSanté mailbox metadata.
pub const MAILBOX_METADATA_EXTENSION: &str =
    "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-mailbox-mss-metadata";
/// Identifier systems of the national ids of people and structures.
pub const PERSON_ID_SYSTEM: &str = "urn:oid:1.2.250.1.71.4.2.1";
pub const STRUCTURE_ID_SYSTEM: &str = "urn:oid:1.2.250.1.71.4.2.2";

/// Where a mailbox is published: the resource type and the identifier
/// (`system|value`) that selects the record.
pub fn target(mailbox: &Mailbox) -> Option<(&'static str, String)> {
    match (mailbox.kind, &mailbox.national_id, &mailbox.finess) {
        (MailboxKind::Personal, Some(id), _) => Some(("Practitioner", format!("{PERSON_ID_SYSTEM}|{id}"))),
        // A structure's national id is 1 followed by its FINESS.
        (_, _, Some(finess)) => Some(("Organization", format!("{STRUCTURE_ID_SYSTEM}|1{}", finess.as_str()))),
        _ => None,
    }
}

/// The `telecom` entry of a mailbox.
pub fn contact_point(mailbox: &Mailbox) -> serde_json::Value {
    let mut metadata = vec![
        serde_json::json!({ "url": "type", "valueCoding": { "code": mailbox.kind.code() } }),
        serde_json::json!({ "url": "listeRouge", "valueBoolean": mailbox.liste_rouge }),
        serde_json::json!({ "url": "description", "valueString": mailbox.display_name }),
    ];
    if let Some(service) = &mailbox.service {
        metadata.push(serde_json::json!({ "url": "service", "valueString": service }));
    }
    serde_json::json!({
        "system": "email",
        "value": mailbox.address.to_string(),
        "extension": [
            { "url": EMAIL_TYPE_EXTENSION, "valueCoding": { "code": "MSSANTE" } },
            { "url": MAILBOX_METADATA_EXTENSION, "extension": metadata },
        ],
    })
}

/// The PATCH body adding `mailbox` to the record's `telecom`.
pub fn add_telecom(resource: &str, mailbox: &Mailbox) -> serde_json::Value {
    serde_json::json!({
        "resourceType": "Parameters",
        "parameter": [{
            "name": "operation",
            "part": [
                { "name": "type", "valueCode": "add" },
                { "name": "path", "valueString": resource },
                { "name": "name", "valueString": "telecom" },
                { "name": "value", "valueContactPoint": contact_point(mailbox) },
            ],
        }],
    })
}

/// The contact point an `add` PATCH carries, if the body is one.
pub fn added_contact_point(body: &serde_json::Value) -> Option<&serde_json::Value> {
    if body["resourceType"] != "Parameters" {
        return None;
    }
    let parts = body["parameter"].as_array()?.iter().find(|p| p["name"] == "operation")?["part"].as_array()?;
    let part = |name: &str| parts.iter().find(|p| p["name"] == name);
    if part("type")?["valueCode"] != "add" || part("name")?["valueString"] != "telecom" {
        return None;
    }
    let contact = &part("value")?["valueContactPoint"];
    let mssante = contact["extension"]
        .as_array()?
        .iter()
        .any(|e| e["url"] == EMAIL_TYPE_EXTENSION && e["valueCoding"]["code"] == "MSSANTE");
    (contact["system"] == "email" && contact["value"].is_string() && mssante).then_some(contact)
}
