//! Health documents carried by MSSanté messages (ANS "volet de transmission
//! de documents de santé par messagerie"): IHE XDM packages
//! ([`xdm`]: read in memory with limits and checked, never refused as a
//! whole) and HL7 CDA R2 documents ([`cda`]: patient, type, dates, author,
//! narrative as plain text, an embedded PDF); and what a sender's document
//! message carries ([`build`]: a CDA wrapping a PDF, its package, the
//! subject); and what acknowledgements say ([`acks`]). Readers take bytes and give plain data: no I/O, no disk, no
//! XSLT, no entity of a document ever expanded ([`xml`]).
//!
//! Must not: write a package's files anywhere, follow a document's links,
//! or trust a size or hash a package claims without checking it.

pub mod acks;
pub mod build;
pub mod cda;
pub mod package;
pub mod xdm;
pub mod xml;
