//! The ANS directory API's publication format: a FHIR PATCH (FHIRPath
//! Patch, a `Parameters` resource) that adds the mailbox to the `telecom` of
//! the person (`Practitioner`, by national id) or the structure
//! (`Organization`, by FINESS), with the MSSanté extensions, replaces it
//! (`telecom.where(value='...')`) or deletes it. The ANS answers 404 when no
//! record matches and 412 when several do.
//!
//! [`contact_point`] is the one place a mailbox becomes a `telecom`: the
//! PATCH bodies and the read endpoint of [`crate::fhir_read`] both use it.

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

/// The FHIRPath of a mailbox in a record's `telecom`.
pub fn telecom_path(resource: &str, address: &str) -> String {
    // FHIRPath string literals escape `'` and `\` with a backslash.
    let quoted = address.replace('\\', "\\\\").replace('\'', "\\'");
    format!("{resource}.telecom.where(value='{quoted}')")
}

/// The address a [`telecom_path`] names, if `path` is one for `resource`.
fn path_address(resource: &str, path: &str) -> Option<String> {
    let quoted = path.strip_prefix(resource)?.strip_prefix(".telecom.where(value='")?.strip_suffix("')")?;
    let mut address = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => address.push(chars.next()?),
            '\'' => return None,
            c => address.push(c),
        }
    }
    Some(address)
}

/// A FHIR PATCH body of one operation.
fn parameters(parts: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "resourceType": "Parameters",
        "parameter": [{ "name": "operation", "part": parts }],
    })
}

/// The PATCH body adding `mailbox` to the record's `telecom`.
pub fn add_telecom(resource: &str, mailbox: &Mailbox) -> serde_json::Value {
    parameters(serde_json::json!([
        { "name": "type", "valueCode": "add" },
        { "name": "path", "valueString": resource },
        { "name": "name", "valueString": "telecom" },
        { "name": "value", "valueContactPoint": contact_point(mailbox) },
    ]))
}

/// The PATCH body replacing what the record shows of `mailbox`.
pub fn replace_telecom(resource: &str, mailbox: &Mailbox) -> serde_json::Value {
    parameters(serde_json::json!([
        { "name": "type", "valueCode": "replace" },
        { "name": "path", "valueString": telecom_path(resource, &mailbox.address.to_string()) },
        { "name": "value", "valueContactPoint": contact_point(mailbox) },
    ]))
}

/// The PATCH body removing the mailbox at `address` from the record.
pub fn delete_telecom(resource: &str, address: &str) -> serde_json::Value {
    parameters(serde_json::json!([
        { "name": "type", "valueCode": "delete" },
        { "name": "path", "valueString": telecom_path(resource, address) },
    ]))
}

/// One publication PATCH, as the directory reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Patch {
    /// Add this MSSanté contact point.
    Add(serde_json::Value),
    /// Replace the contact point of `address` by this one (same address).
    Replace { address: String, contact: serde_json::Value },
    /// Remove the contact point of `address`.
    Delete { address: String },
}

/// The publication a PATCH body on `resource` carries, if it is one.
pub fn parse_patch(resource: &str, body: &serde_json::Value) -> Option<Patch> {
    if body["resourceType"] != "Parameters" {
        return None;
    }
    let parts = body["parameter"].as_array()?.iter().find(|p| p["name"] == "operation")?["part"].as_array()?;
    let part = |name: &str| parts.iter().find(|p| p["name"] == name);
    let path = part("path")?["valueString"].as_str()?;
    match part("type")?["valueCode"].as_str()? {
        "add" if path == resource && part("name")?["valueString"] == "telecom" => {
            mssante_contact(&part("value")?["valueContactPoint"]).map(|c| Patch::Add(c.clone()))
        }
        "replace" => {
            let address = path_address(resource, path)?;
            let contact = mssante_contact(&part("value")?["valueContactPoint"])?;
            (contact["value"] == address.as_str()).then(|| Patch::Replace { address, contact: contact.clone() })
        }
        "delete" => path_address(resource, path).map(|address| Patch::Delete { address }),
        _ => None,
    }
}

/// `contact` if it is an MSSanté email contact point.
fn mssante_contact(contact: &serde_json::Value) -> Option<&serde_json::Value> {
    let mssante = contact["extension"]
        .as_array()?
        .iter()
        .any(|e| e["url"] == EMAIL_TYPE_EXTENSION && e["valueCoding"]["code"] == "MSSANTE");
    (contact["system"] == "email" && contact["value"].is_string() && mssante).then_some(contact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_telecom_path_reads_back_even_with_quotes() {
        for address in ["a.b@x.test", "o'brien@x.test", "back\\slash@x.test"] {
            let path = telecom_path("Practitioner", address);
            assert_eq!(path_address("Practitioner", &path).as_deref(), Some(address), "{path}");
            assert_eq!(path_address("Organization", &path), None);
        }
        assert_eq!(path_address("Practitioner", "Practitioner.telecom.where(value='a'b')"), None);
        assert_eq!(path_address("Practitioner", "Practitioner.telecom.where(value='a\\')"), None);
        let delete = delete_telecom("Organization", "x@y.test");
        assert_eq!(parse_patch("Organization", &delete), Some(Patch::Delete { address: "x@y.test".into() }));
        assert_eq!(parse_patch("Practitioner", &delete), None);
    }
}
