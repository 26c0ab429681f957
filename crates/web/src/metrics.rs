//! `/metrics`: the operator's figures for Prometheus (text exposition
//! format 0.0.4), for an operator's Grafana: mailboxes by type and state,
//! the current month's usage (`mss_ops::stats`: messages by direction,
//! documents, logins by method), the outbound queue, the liste blanche
//! (entries, when imported), our certificates' expiry, counted events (TLS
//! handshake failures, refused logins, delivery attempts), how long the
//! scrape's store reads took, each listener's
//! connections (open, admitted, refused, evicted), and the process
//! (resident memory, open files, CPU time, start time). Counts only. A
//! scraper authenticates with the bearer token `[metrics] token_file`
//! holds; without it the endpoint does not exist.

use std::fmt::Write;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mss_core::Domain;
use mss_core::indicator::Period;
use mss_store::{RecipientStatus, Store, now_unix};

struct Metrics {
    store: Store,
    domain: Domain,
    token: String,
    started_at: i64,
    /// Our certificates: role, subject, end of validity.
    expiries: Vec<(&'static str, String, i64)>,
}

/// The endpoint, for a scraper holding `token`; `expiries` are our
/// certificates (role, subject, `notAfter`).
pub fn router(store: Store, domain: Domain, token: String, expiries: Vec<(&'static str, String, i64)>) -> Router {
    let metrics = Arc::new(Metrics { store, domain, token, started_at: now_unix(), expiries });
    Router::new().route("/metrics", get(scrape)).with_state(metrics)
}

async fn scrape(State(m): State<Arc<Metrics>>, headers: HeaderMap) -> Response {
    let given =
        headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()).and_then(|h| h.strip_prefix("Bearer "));
    // Compared through hashes: no early exit on the first differing byte.
    let matches = given.is_some_and(|g| blake3::hash(g.trim().as_bytes()) == blake3::hash(m.token.as_bytes()));
    if !matches {
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))], "")
            .into_response();
    }
    match render(&m).await {
        Ok(text) => {
            ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"))], text).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics: store failure");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// A Prometheus label value, escaped.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

async fn render(m: &Metrics) -> Result<String, mss_store::StoreError> {
    let started = std::time::Instant::now();
    let month = Period::Month { year: 0, month: 1 }.containing(now_unix());
    let report = mss_ops::stats::month(&m.store, &m.domain, month).await?;
    let mut out = String::new();
    let _ = writeln!(out, "# HELP mss_mailboxes Mailboxes by type and state.\n# TYPE mss_mailboxes gauge");
    for (kind, states) in &report.mailboxes {
        for (state, n) in states {
            let _ = writeln!(out, "mss_mailboxes{{kind=\"{}\",state=\"{}\"}} {n}", label(kind), label(state));
        }
    }
    let _ = writeln!(
        out,
        "# HELP mss_month_messages Messages this month (Paris time), by direction.\n# TYPE mss_month_messages gauge"
    );
    let messages = &report.messages;
    for (direction, n) in [
        ("sent_inside", messages.sent_inside),
        ("sent_to_operators", messages.sent_to_operators),
        ("sent_to_patients", messages.sent_to_patients),
        ("sent_failed", messages.sent_failed),
        ("received_from_operators", messages.received_from_operators),
        ("received_from_patients", messages.received_from_patients),
    ] {
        let _ = writeln!(out, "mss_month_messages{{direction=\"{direction}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP mss_month_documents_sent Messages with an IHE XDM package sent this month.\n# TYPE mss_month_documents_sent gauge"
    );
    let _ = writeln!(out, "mss_month_documents_sent {}", report.documents_sent);
    let _ = writeln!(
        out,
        "# HELP mss_month_logins Successful logins this month, by method.\n# TYPE mss_month_logins gauge"
    );
    for (method, n) in &report.logins {
        let _ = writeln!(out, "mss_month_logins{{method=\"{}\"}} {n}", label(method));
    }
    let queue = m.store.meta.queue().await?;
    let pending: Vec<_> = queue.iter().filter(|q| q.status == RecipientStatus::Pending).collect();
    let _ = writeln!(
        out,
        "# HELP mss_queue_pending Recipients waiting in the outbound queue.\n# TYPE mss_queue_pending gauge"
    );
    let _ = writeln!(out, "mss_queue_pending {}", pending.len());
    // The queue keeps no arrival time: a recipient's age is read from
    // its attempts (none for a new one) and its expiry.
    let oldest = pending.iter().map(|q| q.attempts).max().unwrap_or(0);
    let _ = writeln!(
        out,
        "# HELP mss_queue_most_attempts Attempts of the most tried recipient still waiting.\n\
         # TYPE mss_queue_most_attempts gauge\nmss_queue_most_attempts {oldest}"
    );
    let soonest_expiry = pending.iter().map(|q| q.expires_at - now_unix()).min().unwrap_or(0).max(0);
    let _ = writeln!(
        out,
        "# HELP mss_queue_soonest_expiry_seconds Time before the first waiting recipient expires (then bounces).\n\
         # TYPE mss_queue_soonest_expiry_seconds gauge\nmss_queue_soonest_expiry_seconds {soonest_expiry}"
    );
    if let Some(import) = m.store.meta.last_whitelist_import().await? {
        let _ = writeln!(
            out,
            "# HELP mss_whitelist_entries Entries of the last ANS liste blanche imported.\n\
             # TYPE mss_whitelist_entries gauge\nmss_whitelist_entries {}\n\
             # HELP mss_whitelist_imported_seconds When it was imported (a stale list shows here).\n\
             # TYPE mss_whitelist_imported_seconds gauge\nmss_whitelist_imported_seconds {}",
            import.entry_count, import.imported_at
        );
    }
    let _ = writeln!(
        out,
        "# HELP mss_certificate_expiry_seconds When each of our certificates expires.\n\
         # TYPE mss_certificate_expiry_seconds gauge"
    );
    for (role, subject, not_after) in &m.expiries {
        let _ = writeln!(
            out,
            "mss_certificate_expiry_seconds{{role=\"{role}\",subject=\"{}\"}} {not_after}",
            label(subject)
        );
    }
    listeners(&mut out);
    counters(&mut out);
    let _ = writeln!(
        out,
        "# HELP mss_store_scrape_seconds Time this scrape's reads of the store took.\n\
         # TYPE mss_store_scrape_seconds gauge\nmss_store_scrape_seconds {:.6}",
        started.elapsed().as_secs_f64()
    );
    process(&mut out, m.started_at);
    Ok(out)
}

/// Each listener's connections (`mss_net::listeners`): open now, proven
/// (a trusted peer, a logged-in user) or not, and since it started, those
/// admitted, refused (full) and evicted (oldest stranger closed for room).
fn listeners(out: &mut String) {
    let running = mss_net::listeners::running();
    let _ = writeln!(
        out,
        "# HELP mss_listener_connections Connections open now, by listener and state.\n\
         # TYPE mss_listener_connections gauge"
    );
    for l in &running {
        let (protocol, address) = (l.protocol, l.address);
        for (state, n) in [("proven", l.figures.proven), ("unproven", l.figures.unproven)] {
            let _ = writeln!(
                out,
                "mss_listener_connections{{protocol=\"{protocol}\",listener=\"{address}\",state=\"{state}\"}} {n}"
            );
        }
    }
    for (name, help, value) in [
        ("admitted", "Connections admitted since start.", (|f: &mss_net::Figures| f.admitted_total) as fn(&_) -> u64),
        ("refused", "Connections refused since start (listener full).", |f| f.refused_total),
        ("evicted", "Unproven connections closed to make room since start.", |f| f.evicted_total),
    ] {
        let _ = writeln!(out, "# HELP mss_listener_{name}_total {help}\n# TYPE mss_listener_{name}_total counter");
        for l in &running {
            let (protocol, address) = (l.protocol, l.address);
            let _ = writeln!(
                out,
                "mss_listener_{name}_total{{protocol=\"{protocol}\",listener=\"{address}\"}} {}",
                value(&l.figures)
            );
        }
    }
}

/// The events `mss_net::counters` counted since start.
fn counters(out: &mut String) {
    let counted = mss_net::counters::snapshot();
    for (family, help, label) in [
        (mss_net::counters::TLS_FAILURES, "TLS handshakes that failed, by reason.", "reason"),
        (mss_net::counters::AUTH_FAILURES, "Logins refused, by protocol.", "protocol"),
        (mss_net::counters::DELIVERY_ATTEMPTS, "Outbound delivery attempts, by result.", "result"),
    ] {
        let _ = writeln!(out, "# HELP mss_{family}_total {help}\n# TYPE mss_{family}_total counter");
        for (_, value, n) in counted.iter().filter(|c| c.0 == family) {
            let _ = writeln!(out, "mss_{family}_total{{{label}=\"{value}\"}} {n}");
        }
    }
}

/// The usual process metrics, from `/proc/self` (Linux).
fn process(out: &mut String, started_at: i64) {
    let _ = writeln!(
        out,
        "# HELP process_start_time_seconds Start time of the process.\n# TYPE process_start_time_seconds gauge"
    );
    let _ = writeln!(out, "process_start_time_seconds {started_at}");
    if let Ok(statm) = std::fs::read_to_string("/proc/self/statm")
        && let Some(pages) = statm.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok())
    {
        let _ = writeln!(
            out,
            "# HELP process_resident_memory_bytes Resident memory.\n# TYPE process_resident_memory_bytes gauge"
        );
        let _ = writeln!(out, "process_resident_memory_bytes {}", pages * 4096);
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        let _ = writeln!(out, "# HELP process_open_fds Open file descriptors.\n# TYPE process_open_fds gauge");
        let _ = writeln!(out, "process_open_fds {}", fds.count());
    }
    // utime and stime, fields 14 and 15 of /proc/self/stat, in clock ticks
    // (100 per second on Linux), after the command name in parentheses.
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
        && let Some((_, rest)) = stat.rsplit_once(')')
    {
        // Field 3 (the state) first: utime and stime are the 12th and 13th.
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        if let (Some(user), Some(system)) = (tick(11), tick(12)) {
            let _ =
                writeln!(out, "# HELP process_cpu_seconds_total CPU time.\n# TYPE process_cpu_seconds_total counter");
            let _ = writeln!(out, "process_cpu_seconds_total {:.2}", (user + system) as f64 / 100.0);
        }
    }
}
