//! Push load: N concurrent keep-alive connections over mutual TLS, each pushing small files
//! to `POST /v1/files` of a running `wagegate serve` for a fixed time, as the demo bank of the
//! development PKI. Prints pushes per second, latency percentiles, errors by status, and the
//! CPU time the client (and, with `--server-pid`, the server) used.
//!
//! ```text
//! wagegate certs dev --out /tmp/pki
//! WAGEGATE__SERVER__RATE_PER_SECOND=100000 WAGEGATE__SERVER__RATE_BURST=100000 \
//!     wagegate serve --dev-pki /tmp/pki --listen 127.0.0.1:8443 &
//! cargo bench -p gateway --bench push_load -- --pki /tmp/pki --addr 127.0.0.1:8443 \
//!     --connections 32 --duration-s 20 --bodies distinct --server-pid $!
//! ```
//!
//! `--bodies distinct` (the realistic case) sends the demo world's first ICBC camt.053 with a
//! message id unique to the run, the connection and the push, so every push is a new file that
//! the server really stores; `--bodies same` sends the same bytes every time, which measures
//! the idempotent receipt (the file is stored once, every later push answers its receipt).
//! See `gateway/benches/push_load.sh` for the whole run and `docs/BENCHMARKS.md` for results.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Push small files to a running wagegate over mutual TLS")]
struct Args {
    /// The development PKI folder (`wagegate certs dev --out DIR`).
    #[arg(long)]
    pki: PathBuf,
    /// Where `wagegate serve` listens.
    #[arg(long, default_value = "127.0.0.1:8443")]
    addr: SocketAddr,
    /// Concurrent keep-alive connections, each with one request in flight.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// How long to measure, after the warm-up.
    #[arg(long, default_value_t = 20)]
    duration_s: u64,
    /// Pushes before this many seconds have passed are not counted (handshakes, caches).
    #[arg(long, default_value_t = 2)]
    warmup_s: u64,
    /// `distinct` (a new file each push) or `same` (identical bytes: idempotent receipts).
    #[arg(long, default_value = "distinct")]
    bodies: String,
    /// The server's process id, to report the CPU time it used during the measurement.
    #[arg(long)]
    server_pid: Option<u32>,
    /// A pause after each push on each connection (a paced load, e.g. a long soak that
    /// should not fill the disk); 0 = push back to back.
    #[arg(long, default_value_t = 0)]
    pause_ms: u64,
}

/// What one connection saw during the measured window.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    by_status: BTreeMap<String, u64>,
}

/// User + system CPU time of a process in seconds, from `/proc/PID/stat`.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; fields after the closing parenthesis are fixed.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports clock ticks; USER_HZ is 100 on every platform we run on.
    Some((utime + stime) / 100.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The demo world's first ICBC camt.053: a file the demo bank is authorised to push.
fn template() -> anyhow::Result<Vec<u8>> {
    sim::demo::world::files()
        .into_iter()
        .find(|f| f.path.starts_with("bank/icbc-fj/") && f.path.contains("camt053"))
        .map(|f| f.bytes)
        .context("the demo world has no ICBC camt.053")
}

/// The template with its `<MsgId>` replaced by `msg_id`: distinct bytes, same shape.
fn with_msg_id(template: &[u8], msg_id: &str) -> anyhow::Result<Vec<u8>> {
    let text = std::str::from_utf8(template).context("the template is not UTF-8")?;
    let start = text.find("<MsgId>").context("no <MsgId> in the template")? + "<MsgId>".len();
    let end = start
        + text[start..]
            .find("</MsgId>")
            .context("no </MsgId> in the template")?;
    Ok(format!("{}{msg_id}{}", &text[..start], &text[end..]).into_bytes())
}

fn client(args: &Args) -> anyhow::Result<reqwest::Client> {
    let ca = std::fs::read(args.pki.join("ca.pem")).context("reading ca.pem")?;
    let mut identity = std::fs::read(args.pki.join("bank.pem")).context("reading bank.pem")?;
    identity.extend(std::fs::read(args.pki.join("bank.key")).context("reading bank.key")?);
    // HTTP/1.1 with keep-alive: how partners' batch clients (curl, Java HTTP clients) push.
    let builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca)?)
        .identity(reqwest::Identity::from_pem(&identity)?)
        .resolve("localhost", args.addr)
        // One connection per client, kept alive for the whole run.
        .pool_max_idle_per_host(1)
        .pool_idle_timeout(None)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .http1_only();
    Ok(builder.build()?)
}

async fn connection(
    n: usize,
    args: Arc<Args>,
    template: Arc<Vec<u8>>,
    run: String,
    measure_from: Instant,
    stop_at: Instant,
) -> anyhow::Result<Tally> {
    let client = client(&args)?;
    let url = format!("https://localhost:{}/v1/files", args.addr.port());
    let mut tally = Tally::default();
    let mut seq: u64 = 0;
    loop {
        let body = if args.bodies == "same" {
            template.to_vec()
        } else {
            with_msg_id(&template, &format!("LOAD-{run}-{n}-{seq}"))?
        };
        seq += 1;
        let started = Instant::now();
        if started >= stop_at {
            break;
        }
        let result = client
            .post(&url)
            .header("X-Wagegate-Format", "camt.053")
            .header("X-Wagegate-File-Name", format!("load-{n}-{seq}.xml"))
            .body(body)
            .send()
            .await;
        let status = match result {
            Ok(response) => {
                let status = response.status().as_u16().to_string();
                // Read the receipt to the end so the connection is reused.
                let _ = response.bytes().await;
                status
            }
            Err(e) if e.is_timeout() => "timeout".to_string(),
            Err(e) if e.is_connect() => "connect".to_string(),
            Err(_) => "transport".to_string(),
        };
        if args.pause_ms > 0 {
            tokio::time::sleep(Duration::from_millis(args.pause_ms)).await;
        }
        if started >= measure_from {
            tally
                .latencies_us
                .push(started.elapsed().as_micros() as u64);
            *tally.by_status.entry(status).or_default() += 1;
        }
    }
    Ok(tally)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench` to every bench binary; it means nothing here.
    let argv = std::env::args().filter(|a| a != "--bench");
    let args = Arc::new(Args::parse_from(argv));
    if args.bodies != "distinct" && args.bodies != "same" {
        bail!("--bodies is `distinct` or `same`");
    }
    let template = Arc::new(template()?);
    let run = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
    );
    println!(
        "push_load: {} connections, {} s (+{} s warm-up), bodies {}, {} bytes each, HTTP/1.1, load average before {}",
        args.connections,
        args.duration_s,
        args.warmup_s,
        args.bodies,
        template.len(),
        load_average()
    );
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup_s);
    let stop_at = measure_from + Duration::from_secs(args.duration_s);
    let mut tasks = Vec::new();
    for n in 0..args.connections {
        tasks.push(tokio::spawn(connection(
            n,
            args.clone(),
            template.clone(),
            run.clone(),
            measure_from,
            stop_at,
        )));
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let own_pid = std::process::id().to_string();
    let server_pid = args.server_pid.map(|p| p.to_string());
    let client_cpu0 = cpu_seconds(&own_pid);
    let server_cpu0 = server_pid.as_deref().and_then(cpu_seconds);
    let mut total = Tally::default();
    for task in tasks {
        let tally = task.await.context("a connection task panicked")??;
        total.latencies_us.extend(tally.latencies_us);
        for (status, count) in tally.by_status {
            *total.by_status.entry(status).or_default() += count;
        }
    }
    let window_s = measure_from.elapsed().as_secs_f64();
    let client_cpu = cpu_seconds(&own_pid).zip(client_cpu0).map(|(b, a)| b - a);
    let server_cpu = server_pid
        .as_deref()
        .and_then(cpu_seconds)
        .zip(server_cpu0)
        .map(|(b, a)| b - a);
    total.latencies_us.sort_unstable();
    let accepted = total.by_status.get("202").copied().unwrap_or(0);
    let all = total.latencies_us.len() as u64;
    let l = &total.latencies_us;
    println!(
        "pushes: {all} in {window_s:.1} s = {:.0}/s; 202 accepted: {accepted} = {:.0}/s",
        all as f64 / window_s,
        accepted as f64 / window_s
    );
    println!(
        "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        percentile(l, 50.0),
        percentile(l, 90.0),
        percentile(l, 99.0),
        percentile(l, 100.0)
    );
    let statuses: Vec<String> = total
        .by_status
        .iter()
        .map(|(s, c)| format!("{s}: {c}"))
        .collect();
    println!("by status: {}", statuses.join(", "));
    let fmt_cpu = |c: Option<f64>| c.map_or("?".to_string(), |c| format!("{c:.1} s"));
    println!(
        "cpu during the window: client {}, server {}; load average after {}",
        fmt_cpu(client_cpu),
        fmt_cpu(server_cpu),
        load_average()
    );
    if accepted != all {
        println!("note: {} pushes were not accepted", all - accepted);
    }
    Ok(())
}
