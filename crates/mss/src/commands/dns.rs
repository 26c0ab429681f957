//! `mss dns`: the DNS records an operator publishes for mail to reach it
//! and for clients to find it: MX for the trust space, the RFC 6186 SRV
//! records (with RFC 8314's `_submissions`) for submission and IMAP, a
//! `.` target for a service not offered, the `autoconfig.` name Thunderbird
//! asks, and optionally TLSA (DANE, RFC 7671: `3 1 1`, the SHA-256 of our
//! certificate's public key). The same listeners make the clients'
//! autoconfiguration ([`client_services`], served by `mss serve`).

use std::net::SocketAddr;

use mss_web::autoconfig::ClientServices;

use crate::cli::DataDirArg;
use crate::config::{DataDir, Listen};
use crate::error::{CliError, failed};

/// Where clients reach us: our certificate's host name and the port of each
/// client listener `port` names (`imap`, `imaps`, `submission`,
/// `submissions`).
pub fn client_services(host: &str, port: impl Fn(&str) -> Option<u16>, token_as_password: bool) -> ClientServices {
    ClientServices {
        host: host.to_string(),
        imap: port("imap"),
        imaps: port("imaps"),
        submission: port("submission"),
        submissions: port("submissions"),
        token_as_password,
    }
}

/// The configured port of a listener.
fn configured(listen: &Listen, name: &str) -> Option<u16> {
    let address: Option<SocketAddr> = match name {
        "smtp" => Some(listen.smtp),
        "imap" => Some(listen.imap),
        "imaps" => listen.imaps,
        "submission" => Some(listen.submission),
        "submissions" => listen.submissions,
        _ => None,
    };
    address.map(|a| a.port()).filter(|p| *p != 0)
}

pub async fn run(data_dir: &DataDirArg, host: Option<String>) -> Result<(), CliError> {
    let data = DataDir::load(&data_dir.data_dir)?;
    let certificate = data.resolve(&data.config.tls.certificate);
    let pem = std::fs::read_to_string(&certificate).map_err(|e| failed(certificate.display(), e))?;
    let subject = mss_trust::pki::subject_of_pem(&pem).map_err(|e| failed(certificate.display(), e))?;
    let host = host.unwrap_or_else(|| subject.get("CN").unwrap_or(data.domain.as_str()).to_string());
    let listen = &data.config.listen;
    let services = client_services(&host, |name| configured(listen, name), false);
    let tlsa = mss_trust::pki::spki_sha256_of_pem(&pem).ok();
    print!("{}", records(data.domain.as_str(), configured(listen, "smtp"), &services, tlsa.as_deref()));
    Ok(())
}

/// The zone lines, with what to know about each as comments.
pub fn records(domain: &str, smtp: Option<u16>, services: &ClientServices, tlsa: Option<&str>) -> String {
    let host = format!("{}.", services.host.trim_end_matches('.'));
    let zone = format!("{}.", domain.trim_end_matches('.'));
    let mut out = format!("; DNS records for {domain} (mss dns)\n");
    out.push_str(&format!("{zone}\tIN MX 10 {host}\n"));
    if smtp.is_some_and(|p| p != 25) {
        out.push_str(&format!(
            "; the trust-space MTA listens on port {} here: peers dial port 25 (an MX names no port)\n",
            smtp.unwrap_or_default()
        ));
    }
    let srv = |service: &str, port: Option<u16>| match port {
        Some(port) => format!("_{service}._tcp.{zone}\tIN SRV 0 1 {port} {host}\n"),
        None => format!("_{service}._tcp.{zone}\tIN SRV 0 0 0 .\t; not offered\n"),
    };
    out.push_str("; RFC 6186 and RFC 8314: where mail clients submit and read\n");
    out.push_str(&srv("submissions", services.submissions));
    out.push_str(&srv("submission", services.submission));
    out.push_str(&srv("imaps", services.imaps));
    out.push_str(&srv("imap", services.imap));
    out.push_str(&srv("pop3s", None));
    out.push_str(&srv("pop3", None));
    out.push_str("; Thunderbird's autoconfiguration (served at /mail/config-v1.1.xml over HTTPS)\n");
    out.push_str(&format!("autoconfig.{zone}\tIN CNAME {host}\n"));
    if let Some(tlsa) = tlsa {
        out.push_str("; optional, with DNSSEC (DANE): our certificate's public key; change it with the key\n");
        out.push_str(&format!("_25._tcp.{host}\tIN TLSA 3 1 1 {tlsa}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_records_name_each_service_and_what_is_not_offered() {
        let services = ClientServices {
            host: "mss.pharmacie.test".into(),
            imap: Some(143),
            imaps: Some(993),
            submission: Some(587),
            submissions: None,
            token_as_password: false,
        };
        let zone = records("pharmacie.test", Some(25), &services, Some("ab12"));
        for line in [
            "pharmacie.test.\tIN MX 10 mss.pharmacie.test.\n",
            "_submission._tcp.pharmacie.test.\tIN SRV 0 1 587 mss.pharmacie.test.\n",
            "_submissions._tcp.pharmacie.test.\tIN SRV 0 0 0 .\t; not offered\n",
            "_imaps._tcp.pharmacie.test.\tIN SRV 0 1 993 mss.pharmacie.test.\n",
            "_imap._tcp.pharmacie.test.\tIN SRV 0 1 143 mss.pharmacie.test.\n",
            "autoconfig.pharmacie.test.\tIN CNAME mss.pharmacie.test.\n",
            "_25._tcp.mss.pharmacie.test.\tIN TLSA 3 1 1 ab12\n",
        ] {
            assert!(zone.contains(line), "{line:?} in {zone}");
        }
        assert!(!zone.contains("port 25 here"));
        assert!(records("pharmacie.test", Some(2525), &services, None).contains("listens on port 2525"));
    }
}
