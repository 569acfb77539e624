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

fn row(case: &str, line: &str, wire: &Wire) {
    // The relay threads may still be counting the last bytes of the exchange.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let (up, down) = wire.take();
    println!(
        "| {case} | {} | {} | {} | {up} | {down} |",
        summary_number(line, "requests"),
        summary_number(line, "up"),
        summary_number(line, "down")
    );
}

fn main() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "1"]);
    let server = Server::start(&data, "127.0.0.1:0");
    let wire = Arc::new(Wire::default());
    let url = format!("http://{}", relay(server.addr.clone(), wire.clone()));
    let k = Client::new(tmp.path().join("kader"));
    k.login(&url, "demo-kader-rw01", "jemput-demo");
    wire.take();

    println!("| case | requests | request body B | response body B | wire up B | wire down B |");
    println!("|---|---|---|---|---|---|");
    let first = k.sync();
    let n = k.households().len();
    row(
        &format!("first sync of one RW ({n} households, members included)"),
        &first,
        &wire,
    );
    row("nothing changed", &k.sync(), &wire);

    let template: serde_json::Value = serde_json::from_str(&k.ok(&["answers-template"]))
        .unwrap_or_else(|e| panic!("template: {e}"));
    let ids: Vec<String> = k
        .households()
        .iter()
        .filter_map(|r| r["id"].as_str().map(String::from))
        .collect();
    k.visit(&ids[0], "found", template["answers"].clone());
    wire.take();
    row("one visit, all 14 answers", &k.sync(), &wire);

    for id in ids.iter().cycle().take(100) {
        k.visit(id, "found", template["answers"].clone());
    }
    wire.take();
    row("100 visits, all 14 answers", &k.sync(), &wire);

    let other = Client::new(tmp.path().join("kader2"));
    other.login(&url, "demo-kader-rw01", "jemput-demo");
    wire.take();
    row(
        "second device, first sync after those visits",
        &other.sync(),
        &wire,
    );

    let op = Client::new(tmp.path().join("op"));
    op.login(&url, "demo-operator", "jemput-demo");
    wire.take();
    let line = op.sync();
    let n = op.households().len();
    row(
        &format!("operator, whole kelurahan ({n} households)"),
        &line,
        &wire,
    );
}
