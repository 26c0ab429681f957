//! The Mon espace santé simulator of a development `mss serve`
//! (`[patients] simulator`, `mss_mes`): its gateway listens on a loopback
//! port, with a certificate the development CA issues at each start under
//! the gateway's default DN (so the default `[patients] gateway_dns` trusts
//! it); mail to patients is routed to it, and it delivers patients' mail
//! to our MTA. Its patient pages are served under [`MES_SIMULATOR_PATH`].
//! Production never gets here (`Config::production_refusals`).

use std::net::SocketAddr;
use std::sync::Arc;

use mss_mes::MonEspaceSante;
use mss_trust::TlsMaterial;
use mss_trust::pki::CertificateAuthority;
use tokio::task::JoinHandle;

use crate::config::DataDir;
use crate::error::{CliError, failed};

/// Where the simulator's patient pages are served on the HTTP listener.
pub const MES_SIMULATOR_PATH: &str = "/mes-sim";

/// The running simulator and its gateway's address.
pub struct Simulator {
    pub mes: Arc<MonEspaceSante>,
    pub gateway: SocketAddr,
}

/// Starts the simulator when configured; `smtp` is our MTA's address.
pub async fn start(
    data: &DataDir,
    smtp: SocketAddr,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<Option<Simulator>, CliError> {
    if !data.config.patients.simulator {
        return Ok(None);
    }
    let ca_dir = data.path.join("ca");
    let ca = match CertificateAuthority::load(&ca_dir) {
        Ok(ca) => ca,
        Err(e) => {
            // A directory made with an outside CA has no key to issue with.
            tracing::warn!(dir = %ca_dir.display(), error = %e, "mes simulator: no development CA, not started");
            return Ok(None);
        }
    };
    let gateway = ca.issue_operator(&mss_mes::gateway_identity()).map_err(|e| failed("mes simulator", e))?;
    let dn = gateway.subject.to_string();
    let trusted =
        data.config.patients.gateway_dns.iter().filter_map(|d| d.parse::<mss_trust::DistinguishedName>().ok());
    if !trusted.into_iter().any(|d| d.matches(&gateway.subject)) {
        tracing::warn!(%dn, "mes simulator: [patients] gateway_dns does not name it; patients' mail will be refused");
    }
    let tls = TlsMaterial::from_pem(&gateway.chain_pem, &gateway.key_pem, ca.cert_pem())
        .map_err(|e| failed("mes simulator", e))?;
    let patients = mss_mes::development_patients(&[&format!("@{}", data.domain)]);
    let mes = MonEspaceSante::new(&tls, smtp, patients).map_err(|e| failed("mes simulator", e))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| failed("mes simulator", e))?;
    let addr = listener.local_addr().map_err(|e| failed("mes simulator", e))?;
    tasks.push(tokio::spawn(mss_mes::serve(mes.clone(), listener)));
    tracing::info!(gateway = %addr, "mes simulator: started");
    Ok(Some(Simulator { mes, gateway: addr }))
}
