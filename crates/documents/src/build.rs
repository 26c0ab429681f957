//! Building what a document message carries (ANS ECO.2.1.*, IHE ITI XDM,
//! REFERENTIELS.md §6): a CDA R2 level 1 document wrapping the PDF
//! (`nonXMLBody`), the IHE XDM package holding it (`README.TXT`,
//! `INDEX.HTM`, `IHE_XDM/SUBSET01/METADATA.XML`, `IHE_XDM/SUBSET01/DOC0001.XML`:
//! ebRIM 3.0 submission set and document entry with patient id, author,
//! type code, creation time, SHA-1 hash, size and URI), the subject
//! convention and the PDF's name. What [`crate::xdm::read`] checks, this
//! writes: a package built here reads back valid.
//!
//! Identifiers are the caller's random numbers (`2.25.<n>` OIDs and
//! `urn:uuid:` ids, ITU-T X.667), so that this module stays pure.

use std::io::Write;

use base64::Engine;
use mss_core::{Civil, Ins};
use sha1::{Digest, Sha1};

/// The INS-NIR assigning authority (production).
const INS_NIR_OID: &str = "1.2.250.1.213.1.4.8";
/// The RPPS (national ids `8…`) assigning authority.
const NATIONAL_ID_OID: &str = "1.2.250.1.71.4.2.1";
const LOINC: &str = "2.16.840.1.113883.6.1";

/// A document type (LOINC), as the sender picks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentType {
    pub code: &'static str,
    pub display: &'static str,
}

/// The types a pharmacy or a practice sends most, in the order offered.
pub const TYPES: [DocumentType; 6] = [
    DocumentType { code: "57833-6", display: "Prescription de médicaments" },
    DocumentType { code: "11502-2", display: "CR d'examens biologiques" },
    DocumentType { code: "11488-4", display: "Note de consultation" },
    DocumentType { code: "34133-9", display: "Synthèse d'épisode de soins" },
    DocumentType { code: "18761-7", display: "Note de transfert (dont lettre de liaison)" },
    DocumentType { code: "34794-8", display: "Synthèse de réunion pluridisciplinaire" },
];

/// The type of `code`, if offered.
pub fn document_type(code: &str) -> Option<DocumentType> {
    TYPES.into_iter().find(|t| t.code == code)
}

/// The patient, by their identity traits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    pub ins: Ins,
    pub given: String,
    pub family: String,
    /// `YYYYMMDD`.
    pub birth_date: Option<String>,
}

/// Who wrote the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// `8` + RPPS, when a person.
    pub national_id: Option<String>,
    pub given: Option<String>,
    /// A person's family name, or the organisation's name.
    pub family: String,
    pub organisation: Option<String>,
}

/// A PDF to send as a health document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDocument {
    pub patient: Patient,
    pub author: Author,
    pub kind: DocumentType,
    pub title: String,
    /// When it was made, unix seconds.
    pub created: i64,
    pub pdf: Vec<u8>,
    /// Random numbers for the document's, the set's and the entries' ids.
    pub ids: [u128; 2],
    /// The sending software, for README.TXT (`X-MSS-NIL`).
    pub software: String,
}

/// Why a document cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("le fichier n'est pas un PDF")]
    NotAPdf,
    #[error("le nom et le prénom du patient sont nécessaires")]
    NoPatientName,
    #[error("la date de naissance doit s'écrire AAAAMMJJ")]
    BirthDate,
    #[error("ZIP: {0}")]
    Zip(String),
}

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// `YYYYMMDDhhmmss` (UTC) of unix seconds.
fn dtm(at: i64) -> String {
    let Civil { year, month, day, hour, minute, second } = Civil::from_unix(at);
    format!("{year:04}{month:02}{day:02}{hour:02}{minute:02}{second:02}")
}

/// `urn:uuid:` of a random number (RFC 4122 layout, version 4 bits set).
fn uuid(n: u128) -> String {
    let n = (n & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let h = format!("{n:032x}");
    format!("urn:uuid:{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

impl NewDocument {
    fn check(&self) -> Result<(), BuildError> {
        if !self.pdf.starts_with(b"%PDF-") {
            return Err(BuildError::NotAPdf);
        }
        if self.patient.given.trim().is_empty() || self.patient.family.trim().is_empty() {
            return Err(BuildError::NoPatientName);
        }
        match &self.patient.birth_date {
            Some(d) if d.len() != 8 || !d.bytes().all(|b| b.is_ascii_digit()) => Err(BuildError::BirthDate),
            _ => Ok(()),
        }
    }

    /// The document's unique id (an OID under `2.25`).
    pub fn unique_id(&self) -> String {
        format!("2.25.{}", self.ids[0])
    }

    fn family(&self) -> String {
        self.patient.family.trim().to_uppercase()
    }

    /// `XDM/1.0/DDM+<libellé> <NOM> <prénom> <date de naissance>`.
    pub fn subject(&self) -> String {
        let birth = self.patient.birth_date.as_deref().map(|d| format!(" {d}")).unwrap_or_default();
        format!("XDM/1.0/DDM+{} {} {}{birth}", self.kind.display, self.family(), self.patient.given.trim())
    }

    /// `<date de l'acte>_<type>_<NOM>_<prénom>.pdf` (ECO.2.1.6), in
    /// characters every mail client keeps.
    pub fn pdf_name(&self) -> String {
        let Civil { year, month, day, .. } = Civil::from_unix(self.created);
        let safe =
            |s: &str| -> String { s.chars().map(|c| if c.is_alphanumeric() || c == '-' { c } else { '-' }).collect() };
        format!(
            "{year:04}{month:02}{day:02}_{}_{}_{}.pdf",
            safe(self.kind.display),
            safe(&self.family()),
            safe(self.patient.given.trim())
        )
    }

    fn author_xcn(&self) -> String {
        let a = &self.author;
        let id = a.national_id.as_deref().unwrap_or_default();
        format!("{id}^{}^{}^^^^^^&{NATIONAL_ID_OID}&ISO", a.family, a.given.as_deref().unwrap_or_default())
    }

    /// The CDA R2 level 1 document wrapping the PDF (CI-SIS "document non
    /// structuré").
    pub fn cda(&self) -> Result<Vec<u8>, BuildError> {
        self.check()?;
        let p = &self.patient;
        let a = &self.author;
        let pdf = base64::engine::general_purpose::STANDARD.encode(&self.pdf);
        let birth = p.birth_date.as_deref().map(|d| format!("<birthTime value=\"{d}\"/>")).unwrap_or_default();
        let author_id = a
            .national_id
            .as_deref()
            .map(|id| format!("<id root=\"{NATIONAL_ID_OID}\" extension=\"{}\"/>", esc(id)))
            .unwrap_or_default();
        let organisation = a.organisation.as_deref().unwrap_or(&a.family);
        let xml = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <realmCode code="FR"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="1.2.250.1.213.1.1.1.1"/>
  <templateId root="1.3.6.1.4.1.19376.1.2.20"/>
  <id root="{id}"/>
  <code code="{code}" codeSystem="{LOINC}" displayName="{display}"/>
  <title>{title}</title>
  <effectiveTime value="{time}"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="fr-FR"/>
  <setId root="{id}"/>
  <versionNumber value="1"/>
  <recordTarget><patientRole>
    <id root="{INS_NIR_OID}" extension="{ins}"/>
    <patient><name><given>{given}</given><family qualifier="BR">{family}</family></name>{birth}</patient>
  </patientRole></recordTarget>
  <author><time value="{time}"/><assignedAuthor>{author_id}
    <assignedPerson><name><given>{author_given}</given><family>{author_family}</family></name></assignedPerson>
  </assignedAuthor></author>
  <custodian><assignedCustodian><representedCustodianOrganization><name>{organisation}</name></representedCustodianOrganization></assignedCustodian></custodian>
  <component><nonXMLBody><text mediaType="application/pdf" representation="B64">{pdf}</text></nonXMLBody></component>
</ClinicalDocument>
"#,
            id = self.unique_id(),
            code = self.kind.code,
            display = esc(self.kind.display),
            title = esc(&self.title),
            time = dtm(self.created),
            ins = p.ins.as_str(),
            given = esc(p.given.trim()),
            family = esc(&self.family()),
            author_given = esc(a.given.as_deref().unwrap_or_default()),
            author_family = esc(&a.family),
            organisation = esc(organisation),
        );
        Ok(xml.into_bytes())
    }

    /// The IHE XDM package holding `cda` (from [`NewDocument::cda`]).
    pub fn package(&self, cda: &[u8]) -> Result<Vec<u8>, BuildError> {
        self.check()?;
        let entry = Entry {
            patient_id: format!("{}^^^&{INS_NIR_OID}&ISO", self.patient.ins.as_str()),
            patient_name: format!("{}^{}", self.family(), self.patient.given.trim()),
            birth: self.patient.birth_date.clone(),
            author: self.author_xcn(),
            organisation: self.author.organisation.clone(),
            code: self.kind.code.to_string(),
            display: self.kind.display.to_string(),
            title: self.title.clone(),
            created: dtm(self.created),
            unique_id: self.unique_id(),
            ids: self.ids,
        };
        entry.package(cda, &self.software)
    }
}

/// A CDA R2 document the sender made (the pharmacy software, through SMTP),
/// packaged by mss: what the message around it then says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagedCda {
    /// `IHE_XDM.ZIP`.
    pub package: Vec<u8>,
    /// The subject convention, from the CDA's type and patient.
    pub subject: String,
    /// The CDA's `code` (`X-MSS-CODECDA`).
    pub code: String,
    pub ins: String,
}

/// Why a CDA cannot be packaged as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageCdaError {
    #[error("CDA unreadable: {0}")]
    Unreadable(#[from] crate::cda::CdaError),
    #[error("the CDA names no patient by INS")]
    NoIns,
    #[error("the CDA gives no patient name")]
    NoPatientName,
    #[error("the CDA has no type code")]
    NoCode,
    #[error("ZIP: {0}")]
    Zip(String),
}

/// Packages the CDA R2 document `cda` as it is (IHE XDM: its METADATA from
/// the CDA's own id, type, patient, author and date), with `ids` for the
/// submission set; `software` names the sender in `README.TXT`.
pub fn package_cda(cda: &[u8], software: &str, ids: [u128; 2]) -> Result<PackagedCda, PackageCdaError> {
    let read = crate::cda::read(cda)?;
    let patient = &read.patient;
    let (Some(ins), Some(root)) = (patient.ins.clone(), patient.ins_root.clone()) else {
        return Err(PackageCdaError::NoIns);
    };
    let (Some(given), Some(family)) = (patient.given.clone(), patient.family.as_ref().map(|f| f.to_uppercase())) else {
        return Err(PackageCdaError::NoPatientName);
    };
    let code = read.code.clone().ok_or(PackageCdaError::NoCode)?;
    let display = code.display.clone().unwrap_or_else(|| code.code.clone());
    let birth = patient.birth_time.as_deref().and_then(|b| b.get(..8)).map(str::to_string);
    let author = read.author.clone().unwrap_or_default();
    let entry = Entry {
        patient_id: format!("{ins}^^^&{root}&ISO"),
        patient_name: format!("{family}^{given}"),
        birth: birth.clone(),
        author: format!("^{author}^^^^^^^"),
        organisation: None,
        code: code.code.clone(),
        display: display.clone(),
        title: read.title.clone().unwrap_or_else(|| display.clone()),
        created: read.effective_time.as_deref().map(|t| t.chars().take(14).collect()).unwrap_or_default(),
        unique_id: read.id.clone().unwrap_or_else(|| format!("2.25.{}", ids[0])),
        ids,
    };
    let package = entry.package(cda, software).map_err(|e| PackageCdaError::Zip(e.to_string()))?;
    let birth = birth.map(|d| format!(" {d}")).unwrap_or_default();
    let subject = format!("XDM/1.0/DDM+{display} {family} {given}{birth}");
    Ok(PackagedCda { package, subject, code: code.code, ins })
}

/// What METADATA.XML says of one document, as written there.
struct Entry {
    /// `ins^^^&oid&ISO`.
    patient_id: String,
    /// `NOM^prénom`.
    patient_name: String,
    birth: Option<String>,
    /// XCN of the author.
    author: String,
    organisation: Option<String>,
    code: String,
    display: String,
    title: String,
    /// `YYYYMMDDhhmmss`, or shorter.
    created: String,
    unique_id: String,
    /// The entry's and the set's random numbers.
    ids: [u128; 2],
}

impl Entry {
    fn package(&self, cda: &[u8], software: &str) -> Result<Vec<u8>, BuildError> {
        let files: [(&str, Vec<u8>); 4] = [
            ("README.TXT", readme(software).into_bytes()),
            ("INDEX.HTM", self.index().into_bytes()),
            ("IHE_XDM/SUBSET01/METADATA.XML", self.metadata(cda).into_bytes()),
            ("IHE_XDM/SUBSET01/DOC0001.XML", cda.to_vec()),
        ];
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in files {
            writer.start_file(name, options).map_err(|e| BuildError::Zip(e.to_string()))?;
            writer.write_all(&bytes).map_err(|e| BuildError::Zip(e.to_string()))?;
        }
        Ok(writer.finish().map_err(|e| BuildError::Zip(e.to_string()))?.into_inner())
    }

    fn index(&self) -> String {
        format!(
            "<!DOCTYPE html>\r\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>IHE XDM</title></head><body>\r\n\
             <h1>{}</h1>\r\n<ul><li><a href=\"IHE_XDM/SUBSET01/DOC0001.XML\">DOC0001.XML</a> ({})</li>\r\n\
             <li><a href=\"IHE_XDM/SUBSET01/METADATA.XML\">METADATA.XML</a></li></ul>\r\n</body></html>\r\n",
            esc(&self.title),
            esc(&self.display)
        )
    }

    fn metadata(&self, cda: &[u8]) -> String {
        let hash: String = Sha1::digest(cda).iter().map(|b| format!("{b:02x}")).collect();
        let patient_id = &self.patient_id;
        let slot = |name: &str, value: &str| {
            format!(
                "<rim:Slot name=\"{name}\"><rim:ValueList><rim:Value>{}</rim:Value></rim:ValueList></rim:Slot>",
                esc(value)
            )
        };
        let name = |value: &str| format!("<rim:Name><rim:LocalizedString value=\"{}\"/></rim:Name>", esc(value));
        let birth = self.birth.as_deref().map(|d| slot("sourcePatientInfo", &format!("PID-7|{d}"))).unwrap_or_default();
        let author = format!(
            "{}{}",
            slot("authorPerson", &self.author),
            self.organisation.as_deref().map(|o| slot("authorInstitution", o)).unwrap_or_default()
        );
        let (document, set) = (uuid(self.ids[0]), uuid(self.ids[1]));
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">
<rim:RegistryObjectList>
<rim:ExtrinsicObject id="{document}" mimeType="text/xml" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1">
{creation}{hash_slot}{size}{uri}{language}{source_patient}{patient_name}{birth}
{title}
<rim:Classification id="cl01" classificationScheme="urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d" classifiedObject="{document}" nodeRepresentation="">{author}</rim:Classification>
<rim:Classification id="cl02" classificationScheme="urn:uuid:f0306f51-975f-434e-a61c-c59651d33983" classifiedObject="{document}" nodeRepresentation="{code}">{coding}{display}</rim:Classification>
<rim:ExternalIdentifier id="ei01" registryObject="{document}" identificationScheme="urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427" value="{patient_id}">{patient_id_name}</rim:ExternalIdentifier>
<rim:ExternalIdentifier id="ei02" registryObject="{document}" identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" value="{unique_id}">{unique_id_name}</rim:ExternalIdentifier>
</rim:ExtrinsicObject>
<rim:RegistryPackage id="{set}" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage">
{submission_time}
<rim:Classification id="cl03" classificationScheme="urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d" classifiedObject="{set}" nodeRepresentation="">{author}</rim:Classification>
<rim:ExternalIdentifier id="ei03" registryObject="{set}" identificationScheme="urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446" value="{patient_id}"/>
<rim:ExternalIdentifier id="ei04" registryObject="{set}" identificationScheme="urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8" value="2.25.{set_id}"/>
<rim:ExternalIdentifier id="ei05" registryObject="{set}" identificationScheme="urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832" value="2.25"/>
</rim:RegistryPackage>
<rim:Classification id="cl04" classifiedObject="{set}" classificationNode="urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"/>
<rim:Association id="as01" associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember" sourceObject="{set}" targetObject="{document}">{original}</rim:Association>
</rim:RegistryObjectList>
</lcm:SubmitObjectsRequest>
"#,
            creation = slot("creationTime", &self.created),
            hash_slot = slot("hash", &hash),
            size = slot("size", &cda.len().to_string()),
            uri = slot("URI", "DOC0001.XML"),
            language = slot("languageCode", "fr-FR"),
            source_patient = slot("sourcePatientId", patient_id),
            patient_name = slot("sourcePatientInfo", &format!("PID-5|{}", self.patient_name)),
            title = name(&self.title),
            code = esc(&self.code),
            coding = slot("codingScheme", LOINC),
            display = name(&self.display),
            patient_id_name = name("XDSDocumentEntry.patientId"),
            unique_id = esc(&self.unique_id),
            unique_id_name = name("XDSDocumentEntry.uniqueId"),
            submission_time = slot("submissionTime", &self.created),
            set_id = self.ids[1],
            original = slot("SubmissionSetStatus", "Original"),
            patient_id = esc(patient_id),
        )
    }
}

/// README.TXT of a package sent by `software`.
fn readme(software: &str) -> String {
    format!(
        "Paquet IHE XDM (IHE ITI XDM, volet ANS de transmission de documents de sante par messagerie).\r\n\
         Logiciel : {}\r\nContenu : IHE_XDM/SUBSET01/METADATA.XML et IHE_XDM/SUBSET01/DOC0001.XML (CDA R2).\r\n",
        software.replace(['\r', '\n'], " ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample() -> NewDocument {
        NewDocument {
            patient: Patient {
                ins: "279035121518989".parse().unwrap(),
                given: "Jeanne".into(),
                family: "Martin".into(),
                birth_date: Some("19790328".into()),
            },
            author: Author {
                national_id: Some("810003621892".into()),
                given: Some("Élodie".into()),
                family: "Dupont".into(),
                organisation: Some("Pharmacie <de la Gare> & Cie".into()),
            },
            kind: TYPES[0],
            title: "Ordonnance du 2 décembre".into(),
            created: 1_796_200_000,
            pdf: b"%PDF-1.4\nrendu".to_vec(),
            ids: [0x1234_5678_9abc_def0_1234_5678_9abc_def0, 42],
            software: "mss 0.1".into(),
        }
    }

    #[test]
    fn subject_and_pdf_name_follow_the_ans_conventions() {
        let doc = sample();
        assert_eq!(doc.subject(), "XDM/1.0/DDM+Prescription de médicaments MARTIN Jeanne 19790328");
        assert_eq!(doc.pdf_name(), "20261202_Prescription-de-médicaments_MARTIN_Jeanne.pdf");
        assert!(uuid(u128::MAX).starts_with("urn:uuid:ffffffff-ffff-4fff-bfff-"));
        let not_pdf = NewDocument { pdf: b"GIF89a".to_vec(), ..sample() };
        assert_eq!(not_pdf.cda(), Err(BuildError::NotAPdf));
        let bad_birth =
            NewDocument { patient: Patient { birth_date: Some("28/03/1979".into()), ..sample().patient }, ..sample() };
        assert_eq!(bad_birth.package(b"x"), Err(BuildError::BirthDate));
    }

    #[test]
    fn a_built_package_reads_back_valid_with_its_cda() {
        let doc = sample();
        let cda = doc.cda().unwrap();
        let read = crate::cda::read(&cda).unwrap();
        assert_eq!(read.patient.ins.as_deref(), Some("279035121518989"));
        assert_eq!(read.code.as_ref().map(|c| c.code.as_str()), Some("57833-6"));
        assert_eq!(read.body, crate::cda::Body::File { media_type: "application/pdf".into(), bytes: doc.pdf.clone() });
        let package = crate::xdm::read(&doc.package(&cda).unwrap());
        assert!(package.is_valid(), "{:?}", package.problems);
        let entry = package.documents().next().unwrap();
        assert_eq!(entry.ins.as_deref(), Some("279035121518989"));
        assert_eq!(entry.type_code.as_ref().map(|c| c.code.as_str()), Some("57833-6"));
        assert_eq!(entry.unique_id.as_deref(), Some(doc.unique_id().as_str()));
        assert_eq!(entry.bytes, cda);
        assert!(entry.author.as_deref().is_some_and(|a| a.starts_with("810003621892^Dupont^Élodie")));
    }
}
