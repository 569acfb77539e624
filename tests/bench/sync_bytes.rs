//! `jemput-bench-sync`: bytes of the sync exchanges for the common cases, measured with
//! the real server binary and the real `jemput` client over loopback HTTP. Prints a
//! Markdown table: bodies (CBOR + zstd) as the client counts them, and bytes on the
//! wire (HTTP headers included; TCP/IP overhead not) counted by a relay in between.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use jemput_tests::{summary_number, Client, Server};

/// Bytes client → server and server → client through the relay.
#[derive(Default)]
struct Wire {
    up: AtomicU64,
    down: AtomicU64,
}

impl Wire {
    fn take(&self) -> (u64, u64) {
        (
            self.up.swap(0, Ordering::SeqCst),
            self.down.swap(0, Ordering::SeqCst),
        )
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, counter: Arc<Wire>, up: bool) {
    let mut buf = [0u8; 16384];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let c = if up { &counter.up } else { &counter.down };
                c.fetch_add(n as u64, Ordering::SeqCst);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// A counting TCP relay on loopback in front of the server; returns its address.
fn relay(target: String, wire: Arc<Wire>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("relay: {e}"));
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(&target) else {
                continue;
            };
            let (c2, s2) = match (client.try_clone(), server.try_clone()) {
                (Ok(c), Ok(s)) => (c, s),
                _ => continue,
            };
            let (w1, w2) = (wire.clone(), wire.clone());
            std::thread::spawn(move || pump(client, server, w1, true));
            std::thread::spawn(move || pump(s2, c2, w2, false));
        }
    });
    addr
}

/// One measured exchange: what the client counted and what the relay saw.
struct Row {
    case: String,
    requests: u64,
    body_up: u64,
    body_down: u64,
    wire_up: u64,
    wire_down: u64,
}

fn row(case: &str, line: &str, wire: &Wire) -> Row {
    // The relay threads may still be counting the last bytes of the exchange.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let (wire_up, wire_down) = wire.take();
    let number = |word: &str| {
        if line.is_empty() {
            0
        } else {
            summary_number(line, word)
        }
    };
    Row {
        case: case.to_string(),
        requests: number("requests"),
        body_up: number("up"),
        body_down: number("down"),
        wire_up,
        wire_down,
    }
}

/// The common cases through a counting relay, over plain HTTP or TLS (each `jemput`
/// command is a new process: a full TLS handshake each time).
fn run(tls: bool) -> Vec<Row> {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "1"]);
    // The server closes a connection idle between requests after twice the header
    // timeout: 2 s here, so the last case below sees a new connection soon.
    let server = Server::start_tls_with(&data, "127.0.0.1:0", tls, &["--header-timeout", "1"]);
    let wire = Arc::new(Wire::default());
    let scheme = if tls { "https" } else { "http" };
    let url = format!("{scheme}://{}", relay(server.addr.clone(), wire.clone()));
    let pin = server.pin.clone();
    let login = |c: &Client, user: &str| {
        c.ok(&jemput_tests::login_args(
            &url,
            pin.as_deref(),
            user,
            "jemput-demo",
        ));
    };
    let mut rows = Vec::new();
    let k = Client::new(tmp.path().join("kader"));
    login(&k, "demo-kader-rw01");
    rows.push(row("login", "", &wire));
    let first = k.sync();
    let n = k.households().len();
    rows.push(row(
        &format!("first sync of one RW ({n} households, members included)"),
        &first,
        &wire,
    ));
    rows.push(row("nothing changed", &k.sync(), &wire));

    let template: serde_json::Value = serde_json::from_str(&k.ok(&["answers-template"]))
        .unwrap_or_else(|e| panic!("template: {e}"));
    let ids: Vec<String> = k
        .households()
        .iter()
        .filter_map(|r| r["id"].as_str().map(String::from))
        .collect();
    k.visit(&ids[0], "found", template["answers"].clone());
    wire.take();
    rows.push(row("one visit, all 14 answers", &k.sync(), &wire));

    for id in ids.iter().cycle().take(100) {
        k.visit(id, "found", template["answers"].clone());
    }
    wire.take();
    rows.push(row("100 visits, all 14 answers", &k.sync(), &wire));

    // A long-lived client (the app): a second sync reuses the connection, so it pays
    // no handshake.
    let device = k.device();
    let client = jemput_client::SyncClient::new();
    let set = jemput_core::IndicatorSet::bps14();
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    let first = rt
        .block_on(client.sync(&device, &set))
        .unwrap_or_else(|e| panic!("sync: {e}"));
    wire.take();
    let again = rt
        .block_on(client.sync(&device, &set))
        .unwrap_or_else(|e| panic!("sync: {e}"));
    let _ = first;
    rows.push(row(
        "nothing changed, again on the app's open connection",
        &again.to_string(),
        &wire,
    ));
    // The server has closed the idle connection: the same process connects again and
    // resumes its TLS 1.3 session (a ticket kept in memory), no certificate sent.
    std::thread::sleep(std::time::Duration::from_secs(3));
    wire.take();
    let resumed = rt
        .block_on(client.sync(&device, &set))
        .unwrap_or_else(|e| panic!("sync: {e}"));
    rows.push(row(
        "nothing changed, the app on a new connection (TLS session resumed)",
        &resumed.to_string(),
        &wire,
    ));

    let other = Client::new(tmp.path().join("kader2"));
    login(&other, "demo-kader-rw01");
    wire.take();
    rows.push(row(
        "second device, first sync after those visits",
        &other.sync(),
        &wire,
    ));

    let op = Client::new(tmp.path().join("op"));
    login(&op, "demo-operator");
    wire.take();
    let line = op.sync();
    let n = op.households().len();
    rows.push(row(
        &format!("operator, whole kelurahan ({n} households)"),
        &line,
        &wire,
    ));
    rows
}

fn main() {
    let plain = run(false);
    println!("| case | requests | request body B | response body B | wire up B | wire down B |");
    println!("|---|---|---|---|---|---|");
    for r in &plain {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.case, r.requests, r.body_up, r.body_down, r.wire_up, r.wire_down
        );
    }
    let tls = run(true);
    println!();
    println!("Over TLS 1.3 (self-signed certificate trusted by its pin), the same cases:");
    println!();
    println!("| case | plain wire up + down B | TLS wire up + down B | TLS adds |");
    println!("|---|---|---|---|");
    for (p, t) in plain.iter().zip(&tls) {
        let (a, b) = (p.wire_up + p.wire_down, t.wire_up + t.wire_down);
        println!("| {} | {a} | {b} | {:+} B |", p.case, b as i64 - a as i64);
    }
}
