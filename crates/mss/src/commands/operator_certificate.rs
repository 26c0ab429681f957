//! `mss init --certificate`: the operator's own IGC-Santé certificate
//! instead of a development CA. The certificate chain and its key come as
//! PEM files, or as one PKCS#12 file (`.p12`/`.pfx`, as the IGC-Santé
//! delivers them) opened with the system's OpenSSL and the password in a
//! 0600 file; the trust anchors (the IGC-Santé chain) as PEM. Checked
//! before anything is written: the key is the certificate's, and the
//! certificate chains to the anchors for client authentication (operators
//! present it to each other both ways).

use std::path::{Path, PathBuf};
use std::process::Command;

use mss_trust::pki::{IssuedCertificate, subject_of_pem};
use mss_trust::{PeerCertificate, ServerTrust, TlsError, TlsMaterial};

use crate::error::{CliError, usage};

/// Where the operator's certificate comes from.
pub struct Provided {
    pub certificate: PathBuf,
    pub key: Option<PathBuf>,
    pub anchors: PathBuf,
    pub pkcs12_password_file: Option<PathBuf>,
}

/// The certificate, its key and the anchors, checked; as `mss init` writes them.
pub struct Loaded {
    pub issued: IssuedCertificate,
    pub anchors_pem: String,
}

fn read(field: &'static str, path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| usage(field, format!("{}: {e}", path.display())))
}

/// Reads and checks what `provided` names.
pub fn load(provided: &Provided) -> Result<Loaded, CliError> {
    let bytes = read("certificate", &provided.certificate)?;
    let (chain_pem, key_pem) = if bytes.starts_with(b"-----BEGIN") {
        let chain = String::from_utf8(bytes).map_err(|_| usage("certificate", "not UTF-8 PEM"))?;
        let key = match &provided.key {
            Some(key) => String::from_utf8(read("key", key)?).map_err(|_| usage("key", "not UTF-8 PEM"))?,
            None if chain.contains("PRIVATE KEY-----") => chain.clone(),
            None => return Err(usage("key", "the certificate's private key (PEM) is needed")),
        };
        (only(&chain, "CERTIFICATE"), only(&key, "PRIVATE KEY"))
    } else {
        let Some(password) = &provided.pkcs12_password_file else {
            return Err(usage("pkcs12-password-file", "a PKCS#12 certificate needs its password, in a file"));
        };
        check_private(password)?;
        let open = |what: &str| pkcs12(&provided.certificate, password, what);
        (only(&open("-nokeys")?, "CERTIFICATE"), only(&open("-nocerts")?, "PRIVATE KEY"))
    };
    if chain_pem.is_empty() {
        return Err(usage("certificate", "no certificate in it"));
    }
    if key_pem.is_empty() {
        return Err(usage("key", "no private key in it"));
    }
    let anchors_pem =
        String::from_utf8(read("anchors", &provided.anchors)?).map_err(|_| usage("anchors", "not UTF-8 PEM"))?;
    let material = TlsMaterial::from_pem(&chain_pem, &key_pem, &anchors_pem).map_err(|e| match e {
        TlsError::Rustls(e) => usage("key", format!("the key is not the certificate's: {e}")),
        e => usage("certificate", e),
    })?;
    let trust = ServerTrust::from_anchors_pem(&anchors_pem).map_err(|e| usage("anchors", e))?;
    let chain: Vec<Vec<u8>> = material.chain.iter().map(|c| c.as_ref().to_vec()).collect();
    if let PeerCertificate::Untrusted { reason } = trust.judge_der(&chain) {
        return Err(usage("anchors", format!("the certificate does not chain to these anchors: {reason}")));
    }
    let subject = subject_of_pem(&chain_pem).map_err(|e| usage("certificate", e))?;
    Ok(Loaded { issued: IssuedCertificate { chain_pem, key_pem, subject }, anchors_pem })
}

/// The PEM blocks of `text` whose label ends with `label`, in order.
fn only(text: &str, label: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("-----BEGIN ") && line.trim_end().ends_with(&format!("{label}-----")) {
            inside = true;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
        if inside && line.starts_with("-----END ") {
            inside = false;
        }
    }
    out
}

/// A secret file must be readable by its owner only.
fn check_private(path: &Path) -> Result<(), CliError> {
    use std::os::unix::fs::PermissionsExt;
    let meta =
        std::fs::metadata(path).map_err(|e| usage("pkcs12-password-file", format!("{}: {e}", path.display())))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(usage("pkcs12-password-file", "must be readable by its owner only (chmod 600)"));
    }
    Ok(())
}

/// `openssl pkcs12` on `file` with the password in `password`, `what`
/// (`-nokeys` or `-nocerts`) selecting the output: PEM on its stdout,
/// never in a file.
fn pkcs12(file: &Path, password: &Path, what: &str) -> Result<String, CliError> {
    let out = Command::new("openssl")
        .arg("pkcs12")
        .arg("-in")
        .arg(file)
        .arg("-passin")
        .arg(format!("file:{}", password.display()))
        .args([what, "-nodes"])
        .output()
        .map_err(|e| usage("certificate", format!("a PKCS#12 file is opened with OpenSSL, not found: {e}")))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let first = said.lines().next().unwrap_or("unreadable");
        return Err(usage("certificate", format!("not a PKCS#12 file, or a wrong password: {first}")));
    }
    String::from_utf8(out.stdout).map_err(|_| usage("certificate", "OpenSSL wrote something else than PEM"))
}
