//! Logins that cannot be abused, over real HTTP against the real server: a guessed
//! password locks the account for a growing while (429 + Retry-After) without holding
//! back anyone else; many failures from one address slow that address without ever
//! refusing a right password; a flood of logins keeps memory bounded and /healthz
//! answering; only JSON is read.

use std::time::{Duration, Instant};

use jemput_tests::{http, http_with_headers, Server};

const PW: &str = "jemput-demo";

fn login(addr: &str, user: &str, password: &str) -> (u16, Option<u64>) {
    let body = serde_json::json!({"user": user, "password": password, "device_name": "t"});
    let (status, headers, _) = http_with_headers(
        addr,
        "POST",
        "/v1/login",
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    )
    .expect("the server answers");
    let retry = headers
        .iter()
        .find(|(k, _)| k == "retry-after")
        .and_then(|(_, v)| v.parse().ok());
    (status, retry)
}

#[test]
fn guessing_holds_back_the_account_and_the_address_but_no_one_else() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "47"]);
    let server = Server::start(&data, "127.0.0.1:0");
    let a = &server.addr;

    // Four wrong passwords are typos; the fifth holds the account back.
    for i in 1..=5 {
        assert_eq!(login(a, "demo-kader-rw01", "tebakan").0, 401, "try {i}");
    }
    let (status, retry) = login(a, "demo-kader-rw01", PW);
    assert_eq!(status, 429, "held back, even with the right password");
    let retry = retry.expect("Retry-After");
    assert!(
        (10..=15).contains(&retry),
        "first hold about 15 s, got {retry}"
    );
    // Another account from the same address is not held back.
    assert_eq!(login(a, "demo-kader-rw02", PW).0, 200);
    // An unknown user answers like a known one: 401, then held back after five.
    for _ in 1..=5 {
        assert_eq!(login(a, "nobody", "tebakan").0, 401);
    }
    assert_eq!(login(a, "nobody", "tebakan").0, 429);

    // Twenty failures from this address: its wrong passwords are now held back …
    for i in 0..12 {
        login(a, &format!("guess-{i}"), "tebakan");
    }
    let (status, retry) = login(a, "guess-x", "tebakan");
    assert_eq!(status, 429, "the address is held back");
    assert!(retry.is_some_and(|r| r >= 1));
    // … but a right password from it never is.
    assert_eq!(login(a, "demo-kader-rw03", PW).0, 200);

    // Only JSON is read.
    let (status, _) = http(
        a,
        "POST",
        "/v1/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        b"user=demo-kader-rw04&password=jemput-demo",
    )
    .expect("answers");
    assert_eq!(status, 415);
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmHWM")
}

#[test]
fn a_flood_of_wrong_logins_keeps_memory_bounded_and_health_answering() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "48"]);
    let server = Server::start(&data, "127.0.0.1:0");
    let pid = server.pid().expect("pid");
    let addr = server.addr.clone();
    let started = Instant::now();
    let flood: Vec<_> = (0..256)
        .map(|i| {
            let addr = addr.clone();
            std::thread::spawn(move || login(&addr, &format!("flood-{}", i % 32), "salah").0)
        })
        .collect();
    // While the flood is on, the server still answers its health check.
    std::thread::sleep(Duration::from_millis(200));
    let health = Instant::now();
    let (status, _) = http(&addr, "GET", "/healthz", &[], &[]).expect("healthz answers");
    assert_eq!(status, 200);
    let health_ms = health.elapsed().as_millis();
    let statuses: Vec<u16> = flood
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    let peak_mib = peak_rss_kib(pid) / 1024;
    eprintln!(
        "256 wrong logins: {} ms, /healthz {health_ms} ms, peak RSS {peak_mib} MiB",
        started.elapsed().as_millis()
    );
    assert!(peak_mib <= 256, "peak RSS {peak_mib} MiB");
    assert!(health_ms < 2_000, "/healthz took {health_ms} ms");
}

/// Half-open connections, many more than the server takes at once: the ones waiting
/// longest are closed to make room, so a health check and a login are still served;
/// a connection that sends nothing is closed after the header timeout.
#[test]
fn idle_and_half_open_connections_cannot_keep_anyone_out() {
    use std::io::Read;
    use std::net::TcpStream;
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "51"]);
    let server = Server::start_with(
        &data,
        "127.0.0.1:0",
        &["--max-connections", "64", "--header-timeout", "2"],
    );
    // A connection that sends nothing is closed after the header timeout.
    let mut idle = TcpStream::connect(&server.addr).expect("connect");
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let n = idle.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without an answer");
    let closed_after = started.elapsed();
    assert!(
        closed_after >= Duration::from_millis(1500) && closed_after < Duration::from_secs(8),
        "closed after {closed_after:?}"
    );

    // A request whose body stops arriving is closed once no byte has moved for four
    // header timeouts (8 s here; 2 min by default): it cannot hold its slot forever.
    let mut stalled = TcpStream::connect(&server.addr).expect("connect");
    std::io::Write::write_all(
        &mut stalled,
        b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"user\"",
    )
    .expect("send");
    stalled
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = stalled.read_to_end(&mut answer);
    let stalled_for = started.elapsed();
    assert!(
        stalled_for >= Duration::from_secs(6) && stalled_for < Duration::from_secs(15),
        "a stalled body held its connection {stalled_for:?}"
    );

    // Three times the cap of half-open connections.
    let held: Vec<TcpStream> = (0..192)
        .filter_map(|_| TcpStream::connect(&server.addr).ok())
        .collect();
    assert!(held.len() >= 150, "opened {}", held.len());
    let health = Instant::now();
    let (status, _) = http(&server.addr, "GET", "/healthz", &[], &[]).expect("healthz answers");
    assert_eq!(status, 200);
    assert!(
        health.elapsed() < Duration::from_secs(2),
        "{:?}",
        health.elapsed()
    );
    assert_eq!(
        login(&server.addr, "demo-kader-rw01", PW).0,
        200,
        "a login is served"
    );
    drop(held);
}
