//! `jemput-bench-weak` (root): Jemput's sync over the weak links of the field, beside a
//! naive baseline that POSTs the whole RW as gzip JSON (and gets it back) on every sync.
//! Real server binary, real `jemput` clients, the link of `weaknet/weaknet.py`. Bodies
//! are counted by the client; wire bytes are the client interface's counters (Ethernet,
//! IP and TCP headers and retransmissions included). Prints one Markdown table.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jemput_tests::{summary_number, Client, Server, WeakNet, WEAK_SERVER_IP};
use serde_json::json;

/// rx/tx bytes of the client namespace's interface.
fn wire(net: &WeakNet) -> (u64, u64) {
    let out = Command::new("ip")
        .args([
            "-n",
            &net.client_ns(),
            "-s",
            "-j",
            "link",
            "show",
            &format!("jc{}", net.id),
        ])
        .output()
        .unwrap_or_else(|e| panic!("ip: {e}"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let s = &v[0]["stats64"];
    (
        s["tx"]["bytes"].as_u64().unwrap_or(0),
        s["rx"]["bytes"].as_u64().unwrap_or(0),
    )
}

struct Run {
    secs: f64,
    line: String,
    wire_up: u64,
    wire_down: u64,
}

fn timed_sync(net: &WeakNet, c: &Client) -> Run {
    let (tx0, rx0) = wire(net);
    let t = Instant::now();
    let line = c.ok(&["sync", "--retry-for", "300"]);
    let secs = t.elapsed().as_secs_f64();
    let (tx1, rx1) = wire(net);
    Run {
        secs,
        line,
        wire_up: tx1 - tx0,
        wire_down: rx1 - rx0,
    }
}

fn row(case: &str, r: &Run, target: &str) {
    println!(
        "| {case} | {} | {} / {} | {} / {} | {:.1} s | {target} |",
        summary_number(&r.line, "requests"),
        summary_number(&r.line, "up"),
        summary_number(&r.line, "down"),
        r.wire_up,
        r.wire_down,
        r.secs
    );
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// The naive sync: POST the whole RW as gzip JSON and receive as much back.
fn naive_sync(net: &WeakNet, body: &std::path::Path) -> (f64, u64, u64) {
    let client = format!(
        "import time,urllib.request\n\
         data=open('{}','rb').read()\n\
         t=time.time()\n\
         r=urllib.request.urlopen(urllib.request.Request('http://{WEAK_SERVER_IP}:9000/', data=data, method='POST'), timeout=600).read()\n\
         print(time.time()-t, len(data), len(r))\n",
        body.display()
    );
    let out = Command::new("ip")
        .args(["netns", "exec", &net.client_ns(), "python3", "-c", &client])
        .output()
        .unwrap_or_else(|e| panic!("baseline client: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    let parts: Vec<&str> = text.split_whitespace().collect();
    assert!(
        parts.len() == 3,
        "baseline client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        parts[0].parse().unwrap_or(0.0),
        parts[1].parse().unwrap_or(0),
        parts[2].parse().unwrap_or(0),
    )
}

fn main() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let data = tmp.path().join("server");
    // One RW of 1,000 households (members included), as a big urban RW would be.
    Server::admin(
        &data,
        &["demo", "--seed", "9", "--households", "1000", "--rws", "1"],
    );
    let answers = json!({
        "floor_area_per_person": 30, "floor_material": "semen/bata merah", "wall_material": "bambu",
        "toilet": "umum", "lighting": "listrik PLN tanpa meteran", "drinking_water": "sumur terlindung",
        "cooking_fuel": "kayu bakar", "protein_per_week": 1, "clothes_per_year": 1, "meals_per_day": 2,
        "clinic_cost": false, "head_income_source": {"occupation": "buruh bangunan", "land_m2": 0, "income_rp": 900000},
        "head_education": "SD", "savings": 200000
    });

    println!("| case | requests | body up / down B | wire up / down B | time | target |");
    println!("|---|---|---|---|---|---|");

    // 2G: first sync of the RW, then nothing changed.
    let net = WeakNet::up("2g");
    let server = Server::start_in(
        Some(&net.server_ns()),
        &data,
        &format!("{WEAK_SERVER_IP}:8080"),
    );
    let k = Client::in_netns(tmp.path().join("k"), &net.client_ns());
    k.login_to(&server, "demo-kader-rw01", "jemput-demo");
    let first = timed_sync(&net, &k);
    let n = k.households().len();
    row(
        &format!("2G: first sync of one RW ({n} households)"),
        &first,
        "≤ 200 KB down, ≤ 2 requests, ≤ 10 s",
    );
    row(
        "2G: nothing changed",
        &timed_sync(&net, &k),
        "≤ 300 B bodies",
    );
    let ids: Vec<String> = k
        .households()
        .iter()
        .filter_map(|r| r["id"].as_str().map(String::from))
        .collect();

    // The naive baseline on the same link: the whole RW as gzip JSON, both ways.
    let mut views = Vec::new();
    let device = k.device();
    let set = jemput_core::IndicatorSet::bps14();
    for id in &ids {
        views.push(device.show(id, &set).unwrap_or_else(|e| panic!("{e}")));
    }
    drop(device);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(serde_json::to_string(&views).unwrap_or_default().as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let body = tmp.path().join("rw.json.gz");
    std::fs::write(&body, gz.finish().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let sink = "import http.server\n\
        class H(http.server.BaseHTTPRequestHandler):\n\
        \x20   def do_POST(self):\n\
        \x20       b=self.rfile.read(int(self.headers['Content-Length']))\n\
        \x20       self.send_response(200); self.send_header('Content-Length', str(len(b))); self.end_headers(); self.wfile.write(b)\n\
        \x20   def log_message(self, *a): pass\n\
        http.server.HTTPServer(('0.0.0.0', 9000), H).serve_forever()\n";
    let mut sink_proc = Command::new("ip")
        .args(["netns", "exec", &net.server_ns(), "python3", "-c", sink])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("sink: {e}"));
    std::thread::sleep(Duration::from_millis(800));
    let (secs, up, down) = naive_sync(&net, &body);
    println!("| baseline on 2G: whole RW as gzip JSON, every sync | 1 | {up} / {down} | – | {secs:.1} s | |");
    let _ = sink_proc.kill();
    let _ = sink_proc.wait();
    drop(server);
    drop(net);

    // 2G with 10% loss: one visit, many times; then a backlog of 1,000 visits.
    let net = WeakNet::up("2g-loss10");
    let _server = Server::start_in(
        Some(&net.server_ns()),
        &data,
        &format!("{WEAK_SERVER_IP}:8080"),
    );
    let k = Client {
        home: k.home.clone(),
        netns: Some(net.client_ns()),
    };
    let file = tmp.path().join("answers.json");
    std::fs::write(
        &file,
        json!({"result": "found", "answers": answers}).to_string(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut times = Vec::new();
    let mut last = None;
    for id in ids.iter().take(20) {
        k.ok(&["visit", id, "--answers", file.to_str().unwrap_or_default()]);
        let r = timed_sync(&net, &k);
        times.push(r.secs);
        last = Some(r);
    }
    if let Some(r) = last {
        row(
            "2G + 10% loss: one visit, all 14 answers (last of 20)",
            &r,
            "≤ 300 B request body",
        );
    }
    let p50 = percentile(&mut times, 0.5);
    let p95 = percentile(&mut times, 0.95);
    println!("| 2G + 10% loss: one visit reaches the server, 20 tries | 1 each | | | p50 {p50:.1} s, p95 {p95:.1} s | over TLS: p50 ≤ 4 s, p95 ≤ 15 s |");
    for id in &ids {
        k.ok(&["visit", id, "--answers", file.to_str().unwrap_or_default()]);
    }
    let backlog = timed_sync(&net, &k);
    row(
        &format!("2G + 10% loss: backlog of {} visits", ids.len()),
        &backlog,
        "≤ 30 s",
    );
}
