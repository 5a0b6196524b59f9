//! Connection flood (issue 13 item 1): anonymous clients from many loopback addresses try to
//! hold `--connections` connections (1,024 by default, the server's `max_connections`) —
//! TCP without a handshake, TLS with half a request header (slow headers), idle HTTP/2 after
//! its preface — and open a new one whenever the server closes one, for the whole run.
//! Meanwhile the demo bank (mutual TLS) polls its file and pushes files, first with no attack
//! (the baseline), then under it; its latency is measured at the client. Prints the
//! percentiles, statuses, how many attack connections the server held and closed, and CPU
//! time. Run against a release `wagegate serve` by `tests/reliability/connection_flood.sh`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

#[derive(Parser, Debug)]
#[command(about = "Flood a running wagegate with idle anonymous connections while a partner works")]
struct Args {
    /// The development PKI folder (`wagegate certs dev --out DIR`).
    #[arg(long)]
    pki: PathBuf,
    /// Where `wagegate serve` listens (on 127.0.0.1).
    #[arg(long, default_value = "127.0.0.1:8443")]
    addr: SocketAddr,
    /// Attack connections held open at once (spread over `--addresses` source addresses).
    #[arg(long, default_value_t = 1024)]
    connections: usize,
    /// Source addresses 127.0.1.1, 127.0.1.2, ... the attack connects from.
    #[arg(long, default_value_t = 16)]
    addresses: usize,
    /// Partner requests measured in each phase (baseline, then under attack).
    #[arg(long, default_value_t = 600)]
    requests: usize,
    /// The server's process id, to report its CPU time and resident memory.
    #[arg(long)]
    server_pid: Option<u32>,
}

fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn rss(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS"))
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "?".into())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn anonymous_tls(pki: &std::path::Path, alpn: &[u8]) -> anyhow::Result<tokio_rustls::TlsConnector> {
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(pki.join("ca.pem")).context("reading ca.pem")?;
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(c?)?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// Counters of the attack.
#[derive(Default)]
struct Attack {
    opened: AtomicU64,
    refused: AtomicU64,
    closed_by_server: AtomicU64,
    held: AtomicU64,
}

/// Reads until the server closes the connection (EOF, reset) or `stop` passes.
async fn until_closed<S: tokio::io::AsyncRead + Unpin>(s: &mut S, stop: Instant) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        let left = stop.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// One attack slot: opens a connection of kind `kind` from `source`, holds it until the
/// server closes it, and opens another, until `stop`.
async fn attacker(
    kind: usize,
    source: Ipv4Addr,
    server: SocketAddr,
    tls_h1: tokio_rustls::TlsConnector,
    tls_h2: tokio_rustls::TlsConnector,
    attack: Arc<Attack>,
    stop: Instant,
) {
    while Instant::now() < stop {
        let socket = match TcpSocket::new_v4() {
            Ok(s) => s,
            Err(_) => break,
        };
        if socket.bind(SocketAddr::new(IpAddr::V4(source), 0)).is_err() {
            break;
        }
        let tcp: TcpStream = match socket.connect(server).await {
            Ok(t) => t,
            Err(_) => {
                attack.refused.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        attack.opened.fetch_add(1, Ordering::Relaxed);
        attack.held.fetch_add(1, Ordering::Relaxed);
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let closed = match kind % 3 {
            0 => {
                let mut tcp = tcp;
                until_closed(&mut tcp, stop).await
            }
            1 => match tls_h1.connect(name, tcp).await {
                Ok(mut tls) => {
                    // Half a request header, then nothing (slow headers).
                    let _ = tls.write_all(b"POST /v1/files HTTP/1.1\r\nHost: loc").await;
                    let _ = tls.flush().await;
                    until_closed(&mut tls, stop).await
                }
                Err(_) => true,
            },
            _ => {
                match tls_h2.connect(name, tcp).await {
                    Ok(mut tls) => {
                        // The HTTP/2 preface and an empty SETTINGS frame, then nothing.
                        let _ = tls
                        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
                        .await;
                        let _ = tls.flush().await;
                        until_closed(&mut tls, stop).await
                    }
                    Err(_) => true,
                }
            }
        };
        attack.held.fetch_sub(1, Ordering::Relaxed);
        if closed {
            attack.closed_by_server.fetch_add(1, Ordering::Relaxed);
            // Reconnect at once, but not in a loop that only measures this client's CPU.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn bank(args: &Args) -> anyhow::Result<reqwest::Client> {
    let ca = std::fs::read(args.pki.join("ca.pem"))?;
    let mut identity = std::fs::read(args.pki.join("bank.pem"))?;
    identity.extend(std::fs::read(args.pki.join("bank.key"))?);
    Ok(reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca)?)
        .identity(reqwest::Identity::from_pem(&identity)?)
        .resolve("localhost", args.addr)
        .timeout(Duration::from_secs(30))
        .build()?)
}

fn statement() -> anyhow::Result<Vec<u8>> {
    sim::demo::world::files()
        .into_iter()
        .find(|f| f.path.starts_with("bank/icbc-fj/") && f.path.contains("camt053"))
        .map(|f| f.bytes)
        .context("the demo world has no ICBC camt.053")
}

/// The partner's work: `n` requests, one in six a push of a new file, the others a status
/// poll; latencies (ms) and statuses.
async fn partner(
    args: &Args,
    client: &reqwest::Client,
    file: &str,
    phase: &str,
) -> anyhow::Result<(Vec<f64>, BTreeMap<String, u64>)> {
    let template = statement()?;
    let mut took = Vec::new();
    let mut statuses = BTreeMap::new();
    for n in 0..args.requests {
        let started = Instant::now();
        let r = if n % 6 == 5 {
            let mut bytes = template.clone();
            bytes.extend_from_slice(format!("\n<!-- {phase} {n} -->\n").as_bytes());
            client
                .post(format!("https://localhost:{}/v1/files", args.addr.port()))
                .body(bytes)
                .send()
                .await
        } else {
            client
                .get(format!(
                    "https://localhost:{}/v1/files/{file}",
                    args.addr.port()
                ))
                .send()
                .await
        };
        let status = match r {
            Ok(r) => {
                let s = r.status().as_u16().to_string();
                let _ = r.bytes().await;
                s
            }
            Err(e) if e.is_timeout() => "timeout".into(),
            Err(_) => "transport".into(),
        };
        took.push(started.elapsed().as_secs_f64() * 1000.0);
        *statuses.entry(status).or_default() += 1;
    }
    took.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Ok((took, statuses))
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(phase: &str, took: &[f64], statuses: &BTreeMap<String, u64>) {
    let s: Vec<String> = statuses.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    println!(
        "{phase}: {} partner requests, latency ms p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}; statuses {}",
        took.len(),
        pct(took, 50.0),
        pct(took, 90.0),
        pct(took, 99.0),
        pct(took, 100.0),
        s.join(", ")
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let argv = std::env::args().filter(|a| a != "--bench");
    let args = Args::parse_from(argv);
    println!(
        "connection_flood: {} attack connections from {} addresses, {} partner requests per phase, load average before {}",
        args.connections,
        args.addresses,
        args.requests,
        load_average()
    );
    let client = bank(&args)?;
    let first = client
        .post(format!("https://localhost:{}/v1/files", args.addr.port()))
        .body(statement()?)
        .send()
        .await?
        .json::<serde_json::Value>()
        .await?;
    let file = first["id"]
        .as_str()
        .context("no file id in the receipt")?
        .to_string();

    let (took, statuses) = partner(&args, &client, &file, "baseline").await?;
    report("baseline (no attack)", &took, &statuses);

    let attack = Arc::new(Attack::default());
    let stop = Instant::now() + Duration::from_secs(3600);
    let tls_h1 = anonymous_tls(&args.pki, b"http/1.1")?;
    let tls_h2 = anonymous_tls(&args.pki, b"h2")?;
    let mut tasks = Vec::new();
    for n in 0..args.connections {
        let source = Ipv4Addr::new(127, 0, 1, 1 + (n % args.addresses) as u8);
        tasks.push(tokio::spawn(attacker(
            n,
            source,
            args.addr,
            tls_h1.clone(),
            tls_h2.clone(),
            attack.clone(),
            stop,
        )));
    }
    // Let the flood build up before measuring.
    let built = Instant::now() + Duration::from_secs(30);
    while Instant::now() < built && attack.opened.load(Ordering::Relaxed) < args.connections as u64
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let server_cpu0 = args.server_pid.and_then(cpu_seconds);
    let started = Instant::now();
    let held_at_start = attack.held.load(Ordering::Relaxed);
    let (took, statuses) = partner(&args, &client, &file, "attack").await?;
    let window = started.elapsed().as_secs_f64();
    report("under attack", &took, &statuses);
    println!(
        "attack: {} connections opened ({} held by the attackers when measuring began, {} at the end), {} closed by the server, {} connects refused; over {window:.1} s",
        attack.opened.load(Ordering::Relaxed),
        held_at_start,
        attack.held.load(Ordering::Relaxed),
        attack.closed_by_server.load(Ordering::Relaxed),
        attack.refused.load(Ordering::Relaxed),
    );
    if let Some(pid) = args.server_pid {
        println!(
            "server: CPU {:.1} s during the measured window, RSS {}; load average after {}",
            cpu_seconds(pid)
                .zip(server_cpu0)
                .map_or(f64::NAN, |(b, a)| b - a),
            rss(pid),
            load_average()
        );
    }
    for t in tasks {
        t.abort();
    }
    Ok(())
}
