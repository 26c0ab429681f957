//! `mss pki init`: a development root CA standing in for IGC-Santé.

use mss_trust::CertificateAuthority;
use mss_trust::pki::{CA_CERT_FILE, CA_KEY_FILE};

use crate::cli::PkiCommand;
use crate::error::{CliError, failed, usage};

pub fn run(command: PkiCommand) -> Result<(), CliError> {
    match command {
        PkiCommand::Init { out, name } => {
            if name.trim().is_empty() {
                return Err(usage("name", "must not be empty"));
            }
            for file in [CA_CERT_FILE, CA_KEY_FILE] {
                if out.join(file).exists() {
                    return Err(usage(
                        "out",
                        format!("{} already exists; not overwriting it", out.join(file).display()),
                    ));
                }
            }
            let ca = CertificateAuthority::generate(&name, "MSS DEVELOPPEMENT").map_err(|e| failed("pki", e))?;
            ca.write_to(&out).map_err(|e| failed("pki", e))?;
            let subject = ca.subject().map_err(|e| failed("pki", e))?;
            println!("Development CA written to {}", out.display());
            println!("  certificate: {}", out.join(CA_CERT_FILE).display());
            println!("  private key: {} (mode 0600)", out.join(CA_KEY_FILE).display());
            println!("  subject DN: {subject}");
            Ok(())
        }
    }
}
