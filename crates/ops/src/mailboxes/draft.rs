//! A creation request checked into a [`MailboxDraft`], once for every front
//! end: which fields each kind uses, which it needs, and the address its
//! names make (the naming rules are `mss_core`'s).

use mss_core::{
    AddressError, Finess, MailboxKind, NationalId, application_local_part, cabinet_local_part, personal_local_part,
    pharmacy_local_part, service_local_part,
};
use mss_store::MailboxDraft;
use mss_trust::DistinguishedName;

/// A creation request as a front end received it: the text is not checked
/// yet. The CLI fills it from its options; the API and the portal from the
/// person's identity and their form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreationForm {
    pub kind: MailboxKind,
    /// The holder of a personal mailbox.
    pub national_id: Option<NationalId>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub finess: Option<String>,
    /// The structure's or the application's name.
    pub name: Option<String>,
    /// An organisational mailbox named after the pharmacy (with its postal
    /// code and city) rather than after a service.
    pub pharmacy: bool,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub service: Option<String>,
    /// The organisation certificate an applicative mailbox is bound to.
    pub certificate_dn: Option<String>,
    pub liste_rouge: bool,
}

impl CreationForm {
    /// An empty request for a mailbox of `kind`.
    pub fn new(kind: MailboxKind) -> Self {
        Self {
            kind,
            national_id: None,
            first_name: None,
            last_name: None,
            finess: None,
            name: None,
            pharmacy: false,
            postal_code: None,
            city: None,
            service: None,
            certificate_dn: None,
            liste_rouge: false,
        }
    }
}

/// A field of a [`CreationForm`]; front ends name it their own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    NationalId,
    FirstName,
    LastName,
    Finess,
    Name,
    Pharmacy,
    PostalCode,
    City,
    Service,
    CertificateDn,
}

impl Field {
    /// The field's name in snake case (`postal_code`), as the API's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::NationalId => "national_id",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Finess => "finess",
            Field::Name => "name",
            Field::Pharmacy => "pharmacy",
            Field::PostalCode => "postal_code",
            Field::City => "city",
            Field::Service => "service",
            Field::CertificateDn => "certificate_dn",
        }
    }

    /// Whether a mailbox of `kind` uses this field (`pharmacy`: an
    /// organisational mailbox named after the pharmacy).
    pub fn used_by(self, kind: MailboxKind, pharmacy: bool) -> bool {
        use MailboxKind::*;
        match self {
            Field::Finess => true,
            Field::NationalId | Field::FirstName | Field::LastName => kind == Personal,
            Field::Name => kind != Personal,
            Field::Pharmacy | Field::Service if kind == Organisational => !pharmacy || self == Field::Pharmacy,
            Field::PostalCode => kind == Organisational && pharmacy,
            Field::City => kind == Cabinet || (kind == Organisational && pharmacy),
            Field::CertificateDn => kind == Applicative,
            Field::Pharmacy | Field::Service => false,
        }
    }
}

/// Why a creation request does not make a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DraftError {
    /// A field the kind needs is missing or blank.
    #[error("{}: required for type {}", field.as_str(), kind.code())]
    Missing { field: Field, kind: MailboxKind },
    /// A field does not read as what it must be (its parser's message).
    #[error("{}: {message}", field.as_str())]
    Malformed { field: Field, message: String },
    /// A name makes no address (core's naming rules), blamed on `field`.
    #[error("{error}")]
    Naming { field: Field, error: AddressError },
}

/// Checks `form` into the mailbox it asks for (its address's base local
/// part included). Fields the kind does not use are ignored: a front end
/// that wants them refused asks [`Field::used_by`] first.
pub fn validate(form: &CreationForm) -> Result<MailboxDraft, DraftError> {
    let kind = form.kind;
    let finess = form.finess.as_deref().map(|f| f.parse::<Finess>()).transpose();
    let finess = finess.map_err(|e| DraftError::Malformed { field: Field::Finess, message: e.to_string() })?;
    let mut draft = MailboxDraft { finess, liste_rouge: form.liste_rouge, ..MailboxDraft::new(kind) };
    let required = |field: Field, value: &Option<String>| match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v.to_string()),
        _ => Err(DraftError::Missing { field, kind }),
    };
    if kind == MailboxKind::Personal {
        let national_id = form.national_id.clone().ok_or(DraftError::Missing { field: Field::NationalId, kind })?;
        let first = required(Field::FirstName, &form.first_name)?;
        let last = required(Field::LastName, &form.last_name)?;
        draft.base_local = personal_local_part(&first, &last).map_err(naming)?;
        draft.display_name = format!("{first} {last}");
        (draft.national_id, draft.first_name, draft.last_name) = (Some(national_id), Some(first), Some(last));
        return Ok(draft);
    }
    if kind != MailboxKind::Cabinet && draft.finess.is_none() {
        return Err(DraftError::Missing { field: Field::Finess, kind });
    }
    let name = required(Field::Name, &form.name)?;
    draft.base_local = match kind {
        MailboxKind::Organisational if form.pharmacy => {
            let postal_code = required(Field::PostalCode, &form.postal_code)?;
            let city = required(Field::City, &form.city)?;
            pharmacy_local_part(&name, &postal_code, &city).map_err(naming)?
        }
        MailboxKind::Organisational => {
            let service = required(Field::Service, &form.service)?;
            let local = service_local_part(&service).map_err(naming)?;
            draft.service = Some(service);
            local
        }
        MailboxKind::Applicative => {
            if let Some(dn) = &form.certificate_dn {
                let dn = dn.parse::<DistinguishedName>();
                let dn =
                    dn.map_err(|e| DraftError::Malformed { field: Field::CertificateDn, message: e.to_string() })?;
                draft.certificate_dn = Some(dn.to_string());
            }
            application_local_part(&name).map_err(naming)?
        }
        _cabinet => cabinet_local_part(&name, &required(Field::City, &form.city)?).map_err(naming)?,
    };
    draft.display_name = name;
    Ok(draft)
}

/// A naming error, on the field whose value folded to nothing or is wrong.
fn naming(error: AddressError) -> DraftError {
    let field = match &error {
        AddressError::EmptyName { field: "first name", .. } => Field::FirstName,
        AddressError::EmptyName { field: "last name", .. } => Field::LastName,
        AddressError::EmptyName { field: "city", .. } => Field::City,
        AddressError::EmptyName { field: "service name", .. } => Field::Service,
        AddressError::PostalCode { .. } => Field::PostalCode,
        _ => Field::Name,
    };
    DraftError::Naming { field, error }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pharmacy() -> CreationForm {
        CreationForm {
            finess: Some("750000002".into()),
            name: Some("Pharmacie du Centre".into()),
            pharmacy: true,
            postal_code: Some("75001".into()),
            city: Some(" Paris ".into()),
            ..CreationForm::new(MailboxKind::Organisational)
        }
    }

    #[test]
    fn a_pharmacy_is_named_after_its_name_postal_code_and_city() {
        let draft = validate(&pharmacy()).unwrap();
        assert_eq!(draft.base_local, "pharmacie-du-centre-75001-paris");
        assert_eq!(draft.display_name, "Pharmacie du Centre");
        assert_eq!(draft.finess.unwrap().as_str(), "750000002");
    }

    #[test]
    fn a_personal_mailbox_needs_its_holder_and_names() {
        let mut form = CreationForm { first_name: Some("Jean".into()), ..CreationForm::new(MailboxKind::Personal) };
        let missing = validate(&form).unwrap_err();
        assert_eq!(missing, DraftError::Missing { field: Field::NationalId, kind: MailboxKind::Personal });
        form.national_id = Some("810003621892".parse().unwrap());
        assert!(matches!(validate(&form), Err(DraftError::Missing { field: Field::LastName, .. })));
        form.last_name = Some("Martin".into());
        let draft = validate(&form).unwrap();
        assert_eq!((draft.base_local.as_str(), draft.display_name.as_str()), ("jean.martin", "Jean Martin"));
    }

    #[test]
    fn bad_values_are_blamed_on_their_field() {
        let bad_finess = CreationForm { finess: Some("750000001".into()), ..pharmacy() };
        assert!(matches!(validate(&bad_finess), Err(DraftError::Malformed { field: Field::Finess, .. })));
        let no_finess = CreationForm { finess: None, ..pharmacy() };
        assert!(matches!(validate(&no_finess), Err(DraftError::Missing { field: Field::Finess, .. })));
        let bad_postal_code = CreationForm { postal_code: Some("7500".into()), ..pharmacy() };
        assert!(matches!(validate(&bad_postal_code), Err(DraftError::Naming { field: Field::PostalCode, .. })));
        let app = CreationForm {
            finess: Some("750000002".into()),
            name: Some("LGO".into()),
            certificate_dn: Some("CN".into()),
            ..CreationForm::new(MailboxKind::Applicative)
        };
        assert!(matches!(validate(&app), Err(DraftError::Malformed { field: Field::CertificateDn, .. })));
        let cabinet = CreationForm { name: Some("Cabinet".into()), ..CreationForm::new(MailboxKind::Cabinet) };
        assert!(matches!(validate(&cabinet), Err(DraftError::Missing { field: Field::City, .. })));
    }

    #[test]
    fn each_kind_uses_its_own_fields() {
        use MailboxKind::*;
        assert!(Field::PostalCode.used_by(Organisational, true));
        assert!(!Field::PostalCode.used_by(Organisational, false));
        assert!(Field::Service.used_by(Organisational, false));
        assert!(!Field::Service.used_by(Organisational, true));
        assert!(Field::Pharmacy.used_by(Organisational, true));
        assert!(!Field::Pharmacy.used_by(Personal, true));
        assert!(!Field::City.used_by(Applicative, false));
        assert!(Field::City.used_by(Cabinet, false));
        assert!(!Field::CertificateDn.used_by(Cabinet, false));
        assert!(!Field::Name.used_by(Personal, false));
    }
}
