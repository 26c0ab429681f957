//! Where a domain's mail goes: a static route (tests, private deployments),
//! else its MX records (RFC 5321 §5.1), tried in order of preference, else
//! the domain's own address (the implicit MX). A null MX (RFC 7505) means the
//! domain accepts no mail.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};

use super::client::PeerReply;

/// MX lookups.
pub struct Dns {
    resolver: TokioResolver,
    /// Port of the peers' MTAs (25 in production).
    port: u16,
}

impl Dns {
    /// The system's resolvers (`/etc/resolv.conf`).
    pub fn system(port: u16) -> Result<Self, String> {
        let resolver = TokioResolver::builder_tokio().and_then(|b| b.build()).map_err(|e| e.to_string())?;
        Ok(Self { resolver, port })
    }

    /// Given name servers (UDP), e.g. a resolver of the hosting platform.
    pub fn with_servers(servers: &[SocketAddr], port: u16) -> Result<Self, String> {
        let name_servers = servers
            .iter()
            .map(|server| {
                let mut config = NameServerConfig::udp(server.ip());
                for connection in &mut config.connections {
                    connection.port = server.port();
                }
                config
            })
            .collect();
        let config = ResolverConfig::from_parts(None, Vec::new(), name_servers);
        let resolver = Resolver::builder_with_config(config, TokioRuntimeProvider::default())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { resolver, port })
    }

    async fn hops(&self, domain: &str) -> Result<Vec<SocketAddr>, PeerReply> {
        let fqdn = format!("{domain}.");
        let mut exchanges: Vec<(u16, String)> = match self.resolver.mx_lookup(fqdn.as_str()).await {
            Ok(lookup) => lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::MX(mx) => Some((mx.preference, mx.exchange.to_ascii())),
                    _ => None,
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        if exchanges.iter().any(|(_, host)| host == ".") {
            return Err(PeerReply { code: 556, text: format!("5.1.10 {domain} accepts no mail (null MX)") });
        }
        if exchanges.is_empty() {
            exchanges.push((0, fqdn));
        }
        exchanges.sort_by_key(|(preference, _)| *preference);
        let mut hops = Vec::new();
        for (_, host) in exchanges {
            if let Ok(ips) = self.resolver.lookup_ip(host.as_str()).await {
                hops.extend(ips.iter().map(|ip: IpAddr| SocketAddr::new(ip, self.port)));
            }
        }
        if hops.is_empty() {
            return Err(PeerReply { code: 451, text: format!("4.4.3 No address found for {domain}") });
        }
        Ok(hops)
    }
}

/// The routing table of the outbound worker.
#[derive(Default)]
pub struct Routes {
    /// Domain -> SMTP address, consulted first.
    pub fixed: HashMap<String, SocketAddr>,
    /// MX lookups for the other domains; without it they have no route.
    pub dns: Option<Dns>,
}

impl Routes {
    /// The addresses to try, in order.
    pub async fn hops(&self, domain: &str) -> Result<Vec<SocketAddr>, PeerReply> {
        if let Some(addr) = self.fixed.get(domain) {
            return Ok(vec![*addr]);
        }
        match &self.dns {
            Some(dns) => dns.hops(domain).await,
            None => Err(PeerReply { code: 451, text: format!("4.4.4 No route to {domain}") }),
        }
    }
}
