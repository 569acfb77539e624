//! Encrypted links: the server serves TLS with a certificate it made, a device trusts
//! it by its pin (never by turning verification off), and a listener on the wire sees
//! no password, NIK or name. Plain http:// to another machine is refused before any
//! lookup or connection.

use std::time::{Duration, Instant};

use jemput_tests::{contains, stderr, Client, Server, Tap};

const PW: &str = "jemput-demo";

fn login_args<'a>(url: &'a str, pin: Option<&'a str>) -> Vec<&'a str> {
    jemput_tests::login_args(url, pin, "demo-kader-rw01", PW)
}

#[test]
fn a_device_syncs_over_tls_by_its_pin_and_the_wire_shows_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "46"]);
    let server = Server::start_tls(&data, "127.0.0.1:0");
    let pin = server.pin.clone().expect("pin");
    let tap = Tap::start(&server.addr);
    let url = format!("https://{}", tap.addr);
    let k = Client::new(tmp.path().join("k"));

    // Without the pin the self-signed certificate is not trusted; a wrong pin neither.
    let out = k.cmd(&login_args(&url, None));
    assert!(!out.status.success(), "trusted without its pin");
    let wrong = "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let out = k.cmd(&login_args(&url, Some(wrong)));
    assert!(!out.status.success(), "trusted with a wrong pin");
    assert!(
        stderr(&out).contains("cannot reach server"),
        "{}",
        stderr(&out)
    );
    assert!(!k.home.join("config.json").exists(), "nothing saved");

    k.ok(&login_args(&url, Some(&pin)));
    k.sync();
    let households = k.households();
    assert!(households.len() > 10, "pulled over TLS");
    let id = households[0]["id"].as_str().expect("id").to_string();
    k.visit(&id, "found", serde_json::json!({}));
    let out = k.sync();
    assert!(out.contains("accepted 1"), "{out}");

    let seen = tap.seen();
    assert!(seen.len() > 2_000, "the traffic went through the tap");
    assert!(
        !contains(&seen, PW.as_bytes()),
        "the password is on the wire"
    );
    assert!(
        !contains(&seen, b"demo-kader-rw01"),
        "the user name is on the wire"
    );
    for h in households.iter().take(20) {
        let shown = k.show(h["id"].as_str().expect("id"));
        for m in shown["members"].as_object().expect("members").values() {
            for field in ["nik", "name"] {
                if let Some(v) = m[field].as_str() {
                    assert!(
                        !contains(&seen, v.as_bytes()),
                        "a member's {field} is on the wire"
                    );
                }
            }
        }
    }

    // The same tap in front of plain HTTP does see the password: the check above can
    // fail.
    let plain = Server::start(&data, "127.0.0.1:0");
    let plain_tap = Tap::start(&plain.addr);
    let other = Client::new(tmp.path().join("plain"));
    other.ok(&login_args(&format!("http://{}", plain_tap.addr), None));
    assert!(contains(&plain_tap.seen(), PW.as_bytes()));
}

#[test]
fn plain_http_to_another_machine_is_refused_before_any_connection() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let k = Client::new(tmp.path().join("k"));
    for url in [
        "http://10.0.0.1:8080",
        // A name that cannot resolve: the refusal comes before any lookup.
        "http://kelurahan.invalid",
    ] {
        let started = Instant::now();
        let out = k.cmd(&login_args(url, None));
        assert!(!out.status.success(), "{url}");
        assert!(
            stderr(&out).contains("plain http:// is only allowed to this machine; use https://"),
            "{url}: {}",
            stderr(&out)
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{url}: it tried to connect"
        );
    }
    assert!(!k.home.join("config.json").exists(), "nothing saved");
}
