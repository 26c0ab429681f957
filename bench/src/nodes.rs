//! mss on a shared store (issue 19): PostgreSQL + S3 with one node and with
//! two nodes (the connections split evenly between the nodes' listeners),
//! against mss on its embedded store, in the same run with the same load
//! generator: SMTP delivery throughput with reused connections, the CPU
//! time of mss, PostgreSQL, the S3 server and the load generator per 1,000
//! messages (from /proc, reaped children included), and an IMAP session
//! (login, SELECT, FETCH of the headers of 1,000 messages) on each node.
//!
//! PostgreSQL and the S3 server are mss-testkit's throwaway ones: a
//! PostgreSQL cluster run with `fsync=off` and `synchronous_commit=off`
//! (its commits are not durable, the embedded store's are), and `s3s-fs`,
//! which writes each object to a file. Bodies up to 64 KiB stay in
//! PostgreSQL: only the 200 KB messages reach the S3 server.
//!
//! ```sh
//! cargo build --release -p mss -p mss-bench && target/release/mss-bench nodes [--quick]
//! ```

use std::time::Duration;

use mss_testkit::{Cluster, S3Server};

use crate::figures::{Figure, Report};
use crate::imap_load::{self, ImapTarget};
use crate::measure::{cpu_seconds, descendants_named};
use crate::mss_side::{Backend, Mss};
use crate::smtp_load::{self, Load, Target};
use crate::tls::Pki;

/// Runs of each SMTP figure on each deployment.
const RUNS: usize = 3;

/// The SMTP loads: message size, its label, connections.
const SHAPES: [(usize, &str, usize); 3] =
    [(10 * 1024, "10 KB", 1), (10 * 1024, "10 KB", 50), (200 * 1024, "200 KB", 50)];

/// Messages in the mailbox of the IMAP figure.
const FETCHED: usize = 1_000;

/// Whose CPU time is counted, in the order of [`cpu`]'s result.
const PROCESSES: [&str; 4] = ["mss", "PostgreSQL", "the S3 server", "the load generator"];

pub fn run(args: &[String]) {
    let quick = args.iter().any(|a| a == "--quick");
    let out = crate::out_dir(args);
    let messages = if quick { 300 } else { 3_000 };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let figures = runtime.block_on(measure(messages));
    let mut report =
        Report::named("nodes", "mss on PostgreSQL + S3 (1 and 2 nodes) against its embedded store", figures);
    report.sides = ["PostgreSQL + S3", "embedded"];
    println!("{}", report.markdown());
    if let Err(e) = report.write(&out) {
        eprintln!("cannot write the results to {}: {e}", out.display());
        std::process::exit(1);
    }
    println!("results written to {}", out.display());
}

/// CPU seconds so far of the mss processes `mss`, of PostgreSQL's, of the
/// S3 server and of this harness (the load generator).
fn cpu(mss: &[u32]) -> [f64; 4] {
    [
        cpu_seconds(mss),
        cpu_seconds(&descendants_named("postgres")),
        cpu_seconds(&descendants_named("s3s-fs")),
        cpu_seconds(&[std::process::id()]),
    ]
}

/// The runs of one load on one deployment.
#[derive(Default)]
struct Runs {
    /// Delivered messages per second, per run.
    rates: Vec<f64>,
    /// CPU seconds over all runs, as [`cpu`] orders them.
    cpu: [f64; 4],
    messages: usize,
}

impl Runs {
    /// One run of `load` over `targets`, the mss processes being `mss`.
    async fn add<F, Fut>(&mut self, targets: &[Target], mss: &[u32], load: &Load, delivered: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = usize>,
    {
        let before = cpu(mss);
        let outcome = smtp_load::run(targets, load, delivered).await;
        let after = cpu(mss);
        self.rates.push(outcome.rate());
        for (total, (a, b)) in self.cpu.iter_mut().zip(after.iter().zip(before)) {
            *total += a - b;
        }
        self.messages += outcome.messages;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    /// CPU seconds of process `i` per 1,000 messages.
    fn per_thousand(&self, i: usize) -> f64 {
        self.cpu[i] * 1000.0 / self.messages as f64
    }

    /// These runs' figures on PostgreSQL + S3 (`nodes`), beside `embedded`'s.
    fn figures(&self, name: &str, nodes: &str, embedded: &Runs) -> Vec<Figure> {
        let mut figures =
            vec![Figure::median(&format!("{name}: delivered, {nodes}"), "msg/s", &self.rates, &embedded.rates, true)];
        for (i, process) in PROCESSES.iter().enumerate() {
            // The embedded store has no PostgreSQL nor S3 server.
            let theirs = if (1..=2).contains(&i) { f64::NAN } else { embedded.per_thousand(i) };
            let label = format!("{name}: CPU of {process} per 1,000 messages, {nodes}");
            figures.push(Figure::new(&label, "s", self.per_thousand(i), theirs, false));
        }
        let servers: f64 = self.cpu[..3].iter().sum();
        figures.push(Figure::new(
            &format!("{name}: PostgreSQL + S3 server share of the servers' CPU, {nodes}"),
            "%",
            (self.cpu[1] + self.cpu[2]) * 100.0 / servers,
            f64::NAN,
            false,
        ));
        figures
    }
}

async fn measure(messages: usize) -> Vec<Figure> {
    let cluster = Cluster::durable().expect("PostgreSQL is needed (postgresql-15)");
    let objects = S3Server::start().expect("s3s-fs is needed (cargo install --locked s3s-fs@0.14.1 --features binary)");
    cluster.create_database("mss");
    let bucket = objects.bucket();
    let pki = Pki::new();
    eprintln!("starting mss on its embedded store, then two nodes on PostgreSQL + S3");
    let embedded = Mss::start(&pki).await;
    let shared = Mss::start_on(&pki, &Backend::Shared { url: &cluster.url("mss"), bucket: &bucket }).await;
    let second = shared.another_node();
    let shared_pids = [shared.pid(), second.pid()];
    let nodes = [shared.smtp_target(&pki), shared.smtp_target_of(&second, &pki)];

    let mut figures = Vec::new();
    for (size, label, connections) in SHAPES {
        let name = format!("SMTP {label}, {connections} conn., connection reused");
        eprintln!("{name}");
        let load = Load { messages, size, connections, reuse: true };
        let (mut alone, mut one, mut two) = (Runs::default(), Runs::default(), Runs::default());
        for _ in 0..RUNS {
            alone.add(&[embedded.smtp_target(&pki)], &[embedded.pid()], &load, || embedded.delivered()).await;
            one.add(&nodes[..1], &shared_pids, &load, || shared.delivered()).await;
            // One connection goes to one node: two nodes change nothing.
            if connections > 1 {
                two.add(&nodes, &shared_pids, &load, || shared.delivered()).await;
            }
        }
        figures.extend(one.figures(&name, "1 node", &alone));
        if connections > 1 {
            figures.extend(two.figures(&name, "2 nodes", &alone));
        }
    }

    let name = "IMAP login + SELECT + FETCH headers of 1,000 messages";
    eprintln!("{name}");
    let theirs = fetch(&embedded.imap_target(&pki, FETCHED).await).await;
    let first = shared.imap_target(&pki, FETCHED).await;
    let ours = fetch(&first).await;
    figures.push(Figure::median(&format!("{name}, 1st node"), "ms", &ours, &theirs, false));
    let other = ImapTarget { addr: second.addr("imap"), ..first };
    let ours = fetch(&other).await;
    figures.push(Figure::median(&format!("{name}, 2nd node (same mailbox)"), "ms", &ours, &theirs, false));
    // The nodes, made after their database and bucket, stop before them.
    figures
}

/// [`imap_load::fetch_headers`]'s sessions, in milliseconds.
async fn fetch(target: &ImapTarget) -> Vec<f64> {
    imap_load::fetch_headers(target, FETCHED).await.iter().map(|s| s.total().as_secs_f64() * 1000.0).collect()
}
