//! `jemput-bench-sync`: bytes of the sync bodies for the common cases, measured with
//! the real server binary and the real `jemput` client over loopback HTTP. Prints a
//! Markdown table. Bodies only (CBOR + zstd); HTTP headers are not counted here.

use jemput_tests::{summary_number, Client, Server};

fn row(case: &str, line: &str) {
    println!(
        "| {case} | {} | {} | {} |",
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
    let k = Client::new(tmp.path().join("kader"));
    k.login(&server.url(), "demo-kader-rw01", "jemput-demo");

    println!("| case | requests | request body B | response body B |");
    println!("|---|---|---|---|");
    let first = k.sync();
    let n = k.households().len();
    row(
        &format!("first sync of one RW ({n} households, members included)"),
        &first,
    );
    row("nothing changed", &k.sync());

    let template: serde_json::Value = serde_json::from_str(&k.ok(&["answers-template"]))
        .unwrap_or_else(|e| panic!("template: {e}"));
    let ids: Vec<String> = k
        .households()
        .iter()
        .filter_map(|r| r["id"].as_str().map(String::from))
        .collect();
    k.visit(&ids[0], "found", template["answers"].clone());
    row("one visit, all 14 answers", &k.sync());

    for id in ids.iter().cycle().take(100) {
        k.visit(id, "found", template["answers"].clone());
    }
    let line = k.sync();
    row("100 visits, all 14 answers", &line);
    println!(
        "\nper visit in the batch: {:.0} B request body",
        summary_number(&line, "up") as f64 / 100.0
    );
    let other = Client::new(tmp.path().join("kader2"));
    other.login(&server.url(), "demo-kader-rw01", "jemput-demo");
    row(
        "second device, first sync after those visits",
        &other.sync(),
    );
    let op = Client::new(tmp.path().join("op"));
    op.login(&server.url(), "demo-operator", "jemput-demo");
    let line = op.sync();
    row(
        &format!(
            "operator, whole kelurahan ({} households)",
            op.households().len()
        ),
        &line,
    );
}
