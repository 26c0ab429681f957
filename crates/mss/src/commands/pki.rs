//! `mss pki init`: a development root CA standing in for IGC-Santé;
//! `mss pki issue-cps`: a test CPS card certificate from a data directory's
//! CPS CA, to load into SoftHSM2 (or any PKCS#11 token).

use mss_core::{Adeli, Finess, NationalId, Rpps};
use mss_trust::pki::{CA_CERT_FILE, CA_KEY_FILE};
use mss_trust::{CertificateAuthority, CpsHolder};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::cli::PkiCommand;
use crate::config::{CPS_CA_DIR, DataDir};
use crate::error::{CliError, failed, parse, usage};

pub async fn run(command: PkiCommand) -> Result<(), CliError> {
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
        PkiCommand::IssueCps { data_dir, rpps, adeli, first, last, finess, out } => {
            let national_id = match (rpps, adeli) {
                (Some(rpps), None) => NationalId::Rpps(parse::<Rpps>("rpps", &rpps)?),
                (None, Some(adeli)) => NationalId::Adeli(parse::<Adeli>("adeli", &adeli)?),
                _ => return Err(usage("rpps", "--rpps or --adeli is required")),
            };
            for (field, value) in [("first", &first), ("last", &last)] {
                if value.trim().is_empty() {
                    return Err(usage(field, "must not be empty"));
                }
            }
            let finess = finess.map(|f| parse::<Finess>("finess", &f)).transpose()?;
            for file in [CPS_CERT, CPS_KEY, CPS_DER] {
                if out.join(file).exists() {
                    return Err(usage(
                        "out",
                        format!("{} already exists; not overwriting it", out.join(file).display()),
                    ));
                }
            }
            let data = DataDir::load(&data_dir.data_dir)?;
            let ca_dir = data.path.join(CPS_CA_DIR);
            let ca = CertificateAuthority::load(&ca_dir).map_err(|e| failed(ca_dir.display(), e))?;
            let holder = CpsHolder {
                national_id: national_id.to_string(),
                first_name: first.trim().to_string(),
                last_name: last.trim().to_string(),
                finess: finess.map(|f| f.as_str().to_string()),
            };
            let issued = ca.issue_cps(&holder).map_err(|e| failed("pki", e))?;
            let leaf = CertificateDer::pem_slice_iter(issued.chain_pem.as_bytes())
                .next()
                .and_then(Result::ok)
                .ok_or_else(|| failed("pki", "no certificate issued"))?;
            issued.write_to(&out, "cps").map_err(|e| failed("pki", e))?;
            std::fs::write(out.join(CPS_DER), leaf.as_ref()).map_err(|e| failed(out.join(CPS_DER).display(), e))?;
            println!(
                "Test CPS for {} {} ({national_id}) written to {}",
                holder.first_name,
                holder.last_name,
                out.display()
            );
            println!("  subject DN: {}", issued.subject);
            Ok(())
        }
    }
}

const CPS_CERT: &str = "cps.pem";
const CPS_KEY: &str = "cps.key";
const CPS_DER: &str = "cps.der";
