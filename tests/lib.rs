//! Test harness for cross-process tests: runs the real `jemput-sync-server` and
//! `jemput` binaries from the workspace's target directory.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Directory of the workspace's built binaries (next to the test executable).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let deps = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if deps.ends_with("deps") {
        deps.parent().map(Path::to_path_buf).unwrap_or(deps)
    } else {
        deps
    }
}

pub fn bin(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// Runs a command to completion; panics with its output when it fails and `ok` is set.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    out
}

/// The rows of a registry CSV as the demo writes it (`;`-separated, header included).
pub fn read_rows(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    r.records()
        .map(|rec| {
            rec.unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .iter()
                .map(String::from)
                .collect()
        })
        .collect()
}

/// Writes `rows` as a `;`-separated registry CSV (the first row is the header).
pub fn write_rows(path: &Path, rows: &[Vec<String>]) {
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for r in rows {
        w.write_record(r)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    w.flush()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub struct Server {
    pub data: PathBuf,
    pub addr: String,
    /// The certificate's pin when the server speaks TLS.
    pub pin: Option<String>,
    child: Option<Child>,
}

/// How the server is told where its store is: `--data DIR`, or, when the tests run
/// against PostgreSQL (`JEMPUT_TEST_DATABASE`), `--database` with a database of the
/// test server named after DIR (made on first use).
pub fn store_args(data: &Path) -> Vec<std::ffi::OsString> {
    match jemput_sync_server::testing::database_for(data)
        .unwrap_or_else(|e| panic!("test database: {e}"))
    {
        Some(url) => vec!["--database".into(), url.into()],
        None => vec!["--data".into(), data.as_os_str().to_owned()],
    }
}

impl Server {
    pub fn admin(data: &Path, args: &[&str]) -> Output {
        let out = run(Command::new(bin("jemput-sync-server"))
            .args(store_args(data))
            .args(args));
        assert!(
            out.status.success(),
            "server admin {args:?} failed: {}",
            stderr(&out)
        );
        out
    }

    /// Starts `serve` on `listen` (port 0 for any) and waits for `/healthz`.
    pub fn start(data: &Path, listen: &str) -> Server {
        Server::spawn(None, data, listen, false)
    }

    /// Starts the server over TLS inside network namespace `netns`, as a device reaches
    /// a server on another machine: with a certificate the server makes, trusted by its
    /// pin.
    pub fn start_in(netns: Option<&str>, data: &Path, listen: &str) -> Server {
        Server::spawn(netns, data, listen, true)
    }

    /// Starts `serve` over TLS with a certificate the server makes (`tls-cert`).
    pub fn start_tls(data: &Path, listen: &str) -> Server {
        Server::spawn(None, data, listen, true)
    }

    /// Starts plain `serve` with more flags (`--max-connections`, …).
    pub fn start_with(data: &Path, listen: &str, flags: &[&str]) -> Server {
        Server::spawn_with(None, data, listen, false, flags)
    }

    /// Starts `serve`, plain or TLS, with more flags.
    pub fn start_tls_with(data: &Path, listen: &str, tls: bool, flags: &[&str]) -> Server {
        Server::spawn_with(None, data, listen, tls, flags)
    }

    /// Starts plain `serve` with more flags and environment variables.
    pub fn start_with_env(
        data: &Path,
        listen: &str,
        flags: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        Server::spawn_env(None, data, listen, false, flags, env)
    }

    fn spawn(netns: Option<&str>, data: &Path, listen: &str, tls: bool) -> Server {
        Server::spawn_with(netns, data, listen, tls, &[])
    }

    fn spawn_with(
        netns: Option<&str>,
        data: &Path,
        listen: &str,
        tls: bool,
        flags: &[&str],
    ) -> Server {
        Server::spawn_env(netns, data, listen, tls, flags, &[])
    }

    /// Starts `serve` (plain HTTP, or TLS with a certificate the server makes) and
    /// waits until it listens (and, plain outside a namespace, answers `/healthz`).
    fn spawn_env(
        netns: Option<&str>,
        data: &Path,
        listen: &str,
        tls: bool,
        flags: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(bin("jemput-sync-server"));
                c
            }
            None => Command::new(bin("jemput-sync-server")),
        };
        cmd.args(store_args(data))
            .args(["serve", "--listen", listen])
            .args(flags)
            .envs(env.iter().copied());
        if tls {
            Server::admin(data, &["tls-cert"]);
            let dir = data.join("tls");
            cmd.arg("--tls-cert")
                .arg(dir.join("cert.pem"))
                .arg("--tls-key")
                .arg(dir.join("key.pem"));
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start server: {e}"));
        let out = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut lines = BufReader::new(out).lines();
        let mut next = || lines.next().and_then(Result::ok).unwrap_or_default();
        let pin = if tls {
            let first = next();
            Some(
                first
                    .strip_prefix("certificate pin ")
                    .unwrap_or_else(|| panic!("server printed `{first}` instead of its pin"))
                    .to_string(),
            )
        } else {
            None
        };
        let line = next();
        let prefix = if tls {
            "listening on https://"
        } else {
            "listening on http://"
        };
        let addr = line
            .trim()
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("server printed `{line}` instead of its address"))
            .to_string();
        let deadline = Instant::now() + Duration::from_secs(20);
        while netns.is_none()
            && !tls
            && http(&addr, "GET", "/healthz", &[], &[]).map(|r| r.0) != Some(200)
        {
            assert!(Instant::now() < deadline, "server never became healthy");
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            data: data.to_path_buf(),
            addr,
            pin,
            child: Some(child),
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.pin.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server the hard way (SIGKILL): nothing committed may be lost.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        let again = Server::spawn(None, &self.data, &self.addr, self.pin.is_some());
        self.child = Some(again.take_child());
    }

    fn take_child(mut self) -> Child {
        self.child
            .take()
            .unwrap_or_else(|| panic!("server has no process"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A minimal HTTP/1.1 exchange over a fresh connection: (status, body).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, Vec<u8>)> {
    http_with_headers(addr, method, path, headers, body).map(|(status, _, body)| (status, body))
}

/// Status, header lines (lower-cased names) and body of a response.
pub type FullResponse = (u16, Vec<(String, String)>, Vec<u8>);

/// Like [`http`], with the response's header lines.
pub fn http_with_headers(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<FullResponse> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).ok()?;
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&resp[..split]).to_string();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let lines = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some((status, lines, resp[split..].to_vec()))
}

/// A relay between clients and a server that keeps every byte both ways: what a
/// listener on the wire sees.
pub struct Tap {
    pub addr: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Tap {
    pub fn start(server_addr: &str) -> Tap {
        use std::net::{TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("tap: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("tap: {e}"))
            .to_string();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let target = server_addr.to_string();
        let kept = seen.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ]
                .into_iter()
                .filter_map(|(a, b)| Some((a.ok()?, b.ok()?)))
                {
                    let kept = kept.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while let Ok(n) = std::io::Read::read(&mut from, &mut buf) {
                            if n == 0 {
                                break;
                            }
                            if let Ok(mut k) = kept.lock() {
                                k.extend_from_slice(&buf[..n]);
                            }
                            if std::io::Write::write_all(&mut to, &buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        Tap { addr, seen }
    }

    /// Every byte relayed so far.
    pub fn seen(&self) -> Vec<u8> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// A relay that sends each new connection to the next of several servers in turn: a
/// load balancer in front of server processes that share one store.
pub struct RoundRobin {
    pub addr: String,
}

impl RoundRobin {
    pub fn start(backends: &[&str]) -> RoundRobin {
        use std::net::{TcpListener, TcpStream};
        let listener =
            TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("round robin: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("round robin: {e}"))
            .to_string();
        let backends: Vec<String> = backends.iter().map(|b| b.to_string()).collect();
        std::thread::spawn(move || {
            for (i, client) in listener.incoming().flatten().enumerate() {
                let Ok(server) = TcpStream::connect(&backends[i % backends.len()]) else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ] {
                    let (Ok(mut from), Ok(mut to)) = (from, to) else {
                        continue;
                    };
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        RoundRobin { addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// A headless client with its own device home.
pub struct Client {
    pub home: PathBuf,
    pub netns: Option<String>,
}

impl Client {
    pub fn new(home: PathBuf) -> Client {
        Client { home, netns: None }
    }

    /// A client whose commands run inside network namespace `netns`.
    pub fn in_netns(home: PathBuf, netns: &str) -> Client {
        Client {
            home,
            netns: Some(netns.to_string()),
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Output {
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(bin("jemput"));
                c
            }
            None => Command::new(bin("jemput")),
        };
        // The store's key file lives outside the home: beside it, per client.
        run(cmd
            .env("XDG_CONFIG_HOME", self.home.with_extension("config"))
            .arg("--home")
            .arg(&self.home)
            .args(args))
    }

    /// This client's device, opened in this process (its store's key file is where
    /// the CLI keeps it for this client).
    pub fn device(&self) -> jemput_client::Device {
        let keys = self
            .home
            .with_extension("config")
            .join("jemput")
            .join("keys");
        jemput_client::Device::open_with(
            &self.home,
            Box::new(jemput_core::SystemClock),
            &jemput_client::keys::Unlock::KeyFile(keys),
        )
        .unwrap_or_else(|e| panic!("open device: {e}"))
    }

    /// The `jemput` command of this client (its home, and the key file beside it),
    /// for tests that spawn and kill it themselves.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(bin("jemput"));
        cmd.env("XDG_CONFIG_HOME", self.home.with_extension("config"))
            .arg("--home")
            .arg(&self.home);
        cmd
    }

    /// Runs and insists on success.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            out.status.success(),
            "jemput {args:?} failed: {}",
            stderr(&out)
        );
        stdout(&out)
    }

    /// Logs in, trying again on a lossy link (a TCP connect can lose every SYN within
    /// the client's connect timeout at 30% loss), as a person would tap again.
    pub fn login_patiently(&self, url: &str, pin: Option<&str>, user: &str, password: &str) {
        let args = login_args(url, pin, user, password);
        for _ in 0..5 {
            let out = self.cmd(&args);
            if out.status.success() {
                return;
            }
            assert!(
                !stderr(&out).contains("wrong user name"),
                "login refused: {}",
                stderr(&out)
            );
        }
        self.ok(&args);
    }

    /// Logs in to a server that speaks TLS, trusting its certificate by its pin.
    pub fn login_to(&self, server: &Server, user: &str, password: &str) {
        let url = server.url();
        self.ok(&login_args(&url, server.pin.as_deref(), user, password));
    }

    pub fn login(&self, url: &str, user: &str, password: &str) {
        self.ok(&login_args(url, None, user, password));
    }

    pub fn sync(&self) -> String {
        self.ok(&["sync"])
    }

    pub fn households(&self) -> Vec<serde_json::Value> {
        let out = self.ok(&["households", "--json"]);
        serde_json::from_str::<Vec<serde_json::Value>>(&out)
            .unwrap_or_else(|e| panic!("households JSON: {e}: {out}"))
    }

    pub fn show(&self, id: &str) -> serde_json::Value {
        let out = self.ok(&["show", id, "--json"]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("show JSON: {e}"))
    }

    /// How many visits the household holds on this device.
    pub fn visit_count(&self, id: &str) -> usize {
        self.show(id)["visits"].as_object().map_or(0, |v| v.len())
    }

    /// Records a visit with the given result and answers (a JSON object); criteria a
    /// found visit leaves out are marked "tidak tahu".
    pub fn visit(&self, id: &str, result: &str, mut answers: serde_json::Value) -> String {
        if let (Some(map), "found") = (answers.as_object_mut(), result) {
            for c in &jemput_core::indicators::IndicatorSet::bps14().criteria {
                map.entry(c.id.clone())
                    .or_insert_with(|| "tidak_tahu".into());
            }
        }
        // Beside the home, not in it: the home holds only what Jemput writes.
        let file = self
            .home
            .with_extension(format!("visit-{}.json", rand::random::<u32>()));
        let body = serde_json::json!({"result": result, "answers": answers});
        std::fs::write(&file, body.to_string()).unwrap_or_else(|e| panic!("write answers: {e}"));
        self.ok(&["visit", id, "--answers", file.to_str().unwrap_or_default()])
    }
}

/// The arguments of `jemput login`, with `--pin` when the server is trusted by one.
pub fn login_args<'a>(
    url: &'a str,
    pin: Option<&'a str>,
    user: &'a str,
    password: &'a str,
) -> Vec<&'a str> {
    let mut args = vec![
        "login",
        "--server",
        url,
        "--user",
        user,
        "--password",
        password,
    ];
    if let Some(p) = pin {
        args.extend(["--pin", p]);
    }
    args
}

/// The number in `... {word} N ...` of a sync summary line, e.g. `pulled 7`.
pub fn summary_number(line: &str, word: &str) -> u64 {
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == word)
        .and_then(|w| {
            w[1].trim_matches(|c: char| !c.is_ascii_digit())
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no `{word} N` in `{line}`"))
}

/// A weak link between a client namespace and a server namespace
/// (`weaknet/weaknet.py`, needs root). Taken down when dropped, whatever happened.
/// Names carry this process's id, so parallel runs never share a link.
pub struct WeakNet {
    pub id: String,
}

pub const WEAK_SERVER_IP: &str = "10.231.0.2";

impl WeakNet {
    fn run(&self, args: &[&str]) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("weaknet/weaknet.py");
        run(Command::new("python3")
            .arg(script)
            .args(["--id", &self.id])
            .args(args))
    }

    pub fn up(profile: &str) -> WeakNet {
        let net = WeakNet {
            id: format!("{}", std::process::id() % 100_000_000),
        };
        let out = net.run(&["up", profile]);
        assert!(
            out.status.success(),
            "weak link `{profile}` did not come up: {}",
            stderr(&out)
        );
        net
    }

    /// The namespace the clients run in.
    pub fn client_ns(&self) -> String {
        format!("jwc{}", self.id)
    }

    /// The namespace the server runs in.
    pub fn server_ns(&self) -> String {
        format!("jws{}", self.id)
    }

    /// Drops every frame until `restore`.
    pub fn cut(&self) {
        assert!(self.run(&["cut"]).status.success(), "cut the link");
    }

    pub fn restore(&self) {
        assert!(self.run(&["restore"]).status.success(), "restore the link");
    }
}

impl Drop for WeakNet {
    fn drop(&mut self) {
        self.run(&["down"]);
    }
}
