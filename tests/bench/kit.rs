//! What the server benches share: starting the real `jemput-sync-server`, a simulated
//! kader (login, pull, one visit, one sync over HTTP) and reading the server's CPU time
//! and memory from `/proc`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use automerge::ActorId;
use jemput_core::household::{Author, Household, VisitInput};
use jemput_core::sync::{self, PushDoc, SyncRequest, SyncResponse};
use jemput_core::{IndicatorSet, SystemClock};
use rand::Rng;
use serde_bytes::ByteBuf;

pub const PASSWORD: &str = "bench-password-123";

/// One sync as a kader saw it.
pub struct Sample {
    pub ms: f64,
    pub ok: bool,
    pub busy: u32,
    pub visit: bool,
}

/// A simulated kader: its session, cursors and (some of) its RW's documents.
#[derive(Clone)]
pub struct Kader {
    pub token: String,
    pub author: Author,
    pub cursors: BTreeMap<String, u64>,
    pub docs: HashMap<String, Vec<u8>>,
}

/// One sync round trip (and its repeats while the server says `busy`).
pub async fn sync_once(
    http: &reqwest::Client,
    url: &str,
    kader: &mut Kader,
    push: Vec<PushDoc>,
    visit: bool,
) -> Sample {
    let req = SyncRequest {
        cursors: kader.cursors.clone(),
        push,
        ..SyncRequest::default()
    };
    let body = sync::encode(&req);
    let started = Instant::now();
    let mut busy = 0;
    let ok = loop {
        let resp = http
            .post(format!("{url}/v1/sync"))
            .bearer_auth(&kader.token)
            .header("content-type", sync::CONTENT_TYPE)
            .body(body.clone())
            .send()
            .await;
        let Ok(resp) = resp else { break false };
        if resp.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            busy += 1;
            let wait = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait)).await;
            continue;
        }
        if !resp.status().is_success() {
            break false;
        }
        let Ok(bytes) = resp.bytes().await else {
            break false;
        };
        match sync::decode::<SyncResponse>(&bytes) {
            Ok(msg) => {
                let refused = !msg.rejected.is_empty();
                kader.cursors = msg.cursors;
                break !refused;
            }
            Err(_) => break false,
        }
    };
    Sample {
        ms: started.elapsed().as_secs_f64() * 1e3,
        ok,
        busy,
        visit,
    }
}

/// A found visit with every criterion answered on a random household of the RW, as
/// the kader's device records it.
pub fn one_visit(
    kader: &mut Kader,
    set: &IndicatorSet,
    rng: &mut impl Rng,
) -> anyhow::Result<Vec<PushDoc>> {
    let ids: Vec<&String> = kader.docs.keys().collect();
    let Some(id) = ids
        .get(rng.gen_range(0..ids.len().max(1)))
        .map(|s| s.to_string())
    else {
        return Ok(Vec::new());
    };
    Ok(vec![visit_on(kader, &id, set, rng)?])
}

/// A found visit with every criterion answered on household `id`, which the kader
/// holds; the kader's copy then includes it.
pub fn visit_on(
    kader: &mut Kader,
    id: &str,
    set: &IndicatorSet,
    rng: &mut impl Rng,
) -> anyhow::Result<PushDoc> {
    let bytes = kader.docs.get(id).context("a household the kader holds")?;
    let mut hh = Household::load_as(bytes, &kader.author)?;
    let before = hh.doc_mut().get_heads();
    let input = VisitInput {
        result: "found".into(),
        answers: serde_json::from_value(set.answers_template()["answers"].clone())?,
        ..VisitInput::default()
    };
    hh.record_visit(&input, set, &kader.author, &SystemClock, rng)?;
    let mut changes = Vec::new();
    for c in hh.doc_mut().get_changes(&before) {
        changes.extend_from_slice(c.raw_bytes());
    }
    kader.docs.insert(id.to_string(), hh.save_nocompress());
    Ok(PushDoc {
        id: id.to_string(),
        changes: ByteBuf::from(changes),
    })
}

/// Logs `user` in (its own device and actor) and pulls its area whole, keeping at most
/// `keep` of the documents (a million-household kelurahan does not fit a bench's
/// memory many times over) and every one `wanted` names.
pub async fn login(
    http: &reqwest::Client,
    url: &str,
    user: &str,
    keep: usize,
    wanted: &std::collections::HashSet<String>,
) -> anyhow::Result<Kader> {
    let user = user.to_string();
    let actor = ActorId::from(rand::random::<[u8; 16]>().as_slice());
    let body = serde_json::json!({
        "user": user, "password": PASSWORD, "device_name": format!("bench {user}"),
        "actors": [actor.to_hex_string()],
    });
    let resp = http
        .post(format!("{url}/v1/login"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body)?)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let resp: serde_json::Value = serde_json::from_slice(&resp)?;
    let token = resp["token"].as_str().context("token")?.to_string();
    let mut kader = Kader {
        author: Author { actor, user },
        token,
        cursors: BTreeMap::new(),
        docs: HashMap::new(),
    };
    loop {
        let req = SyncRequest {
            cursors: kader.cursors.clone(),
            ..SyncRequest::default()
        };
        let msg = post_sync(http, url, &kader.token, &req).await?;
        for d in msg.docs.into_iter().filter(|d| d.snapshot) {
            if kader.docs.len() < keep || wanted.contains(&d.id) {
                kader.docs.insert(d.id, d.data.into_vec());
            }
        }
        kader.cursors = msg.cursors;
        if !msg.more {
            break;
        }
    }
    if kader.docs.is_empty() {
        bail!("{} received no household of its area", kader.author.user);
    }
    Ok(kader)
}

/// One sync request; an error unless the server answered it (`2xx`).
pub async fn post_sync(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    req: &SyncRequest,
) -> anyhow::Result<SyncResponse> {
    let bytes = http
        .post(format!("{url}/v1/sync"))
        .bearer_auth(token)
        .header("content-type", sync::CONTENT_TYPE)
        .body(sync::encode(req))
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    Ok(sync::decode(&bytes)?)
}

/// A binary built beside this one.
pub fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let path = jemput_tests::bin(name);
    if !path.exists() {
        bail!(
            "{} not built (cargo build -p jemput-sync-server)",
            path.display()
        );
    }
    Ok(path)
}

pub fn admin(bin: &Path, store: &[String], args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(bin).args(store).args(args).output()?;
    if !out.status.success() {
        bail!("{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Starts `serve` on a free loopback port; returns it and its URL.
pub fn serve(
    bin: &Path,
    store: &[String],
    max_in_flight: usize,
) -> anyhow::Result<(Child, String)> {
    use std::io::BufRead;
    let mut child = Command::new(bin)
        .args(store)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--max-in-flight",
            &max_in_flight.to_string(),
            "--max-connections",
            "60000",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(match std::env::var_os("JEMPUT_BENCH_SERVER_STDERR") {
            Some(_) => Stdio::inherit(),
            None => Stdio::null(),
        })
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line?;
        if let Some(addr) = line.strip_prefix("listening on ") {
            let url = addr.trim().to_string();
            // Keep draining its output so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return Ok((child, url));
        }
    }
    bail!("the server did not start")
}

/// CPU time (clock ticks) of the server process, and on PostgreSQL of the cluster too:
/// its postmaster, the children it has reaped (backends that ended) and every live
/// `postgres` process — so a backend that ends between two readings still counts.
pub fn cpu_ticks(pid: u32, postgres: bool) -> u64 {
    // (comm, ppid, own ticks, reaped children's ticks) of a process.
    let of = |pid: &str| -> Option<(String, String, u64, u64)> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (head, rest) = stat.rsplit_once(')')?;
        let comm = head.split_once('(')?.1.to_string();
        let f: Vec<&str> = rest.split_whitespace().collect();
        // After ')': state, ppid, … utime (12th), stime, cutime, cstime.
        let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        Some((comm, f.get(1)?.to_string(), n(11) + n(12), n(13) + n(14)))
    };
    let mut total = of(&pid.to_string()).map_or(0, |(_, _, t, _)| t);
    if postgres {
        let procs: Vec<(String, (String, String, u64, u64))> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.chars().all(|c| c.is_ascii_digit()))
            .filter_map(|n| of(&n).map(|p| (n, p)))
            .filter(|(_, p)| p.0 == "postgres")
            .collect();
        for (_, (_, ppid, own, reaped)) in &procs {
            total += own;
            // The postmaster (its parent is not a postgres process) also carries its
            // ended backends.
            if !procs.iter().any(|(p, _)| p == ppid) {
                total += reaped;
            }
        }
    }
    total
}

pub fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// The server's peak resident memory (kB).
pub fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Where the server keeps its data: `--database URL`, or `--data DIR` (a kept
/// directory, or a fresh one under `tmp`).
pub struct Store {
    pub args: Vec<String>,
    pub database: Option<String>,
    pub data: PathBuf,
}

impl Store {
    pub fn new(database: Option<String>, data: Option<PathBuf>, tmp: &Path) -> Store {
        let data = data.unwrap_or_else(|| tmp.join("server"));
        let args = match &database {
            Some(url) => vec!["--database".into(), url.clone()],
            None => vec!["--data".into(), data.display().to_string()],
        };
        Store {
            args,
            database,
            data,
        }
    }

    pub fn open(&self) -> anyhow::Result<Box<dyn jemput_sync_server::Storage>> {
        Ok(match &self.database {
            Some(url) => Box::new(jemput_sync_server::PostgresStorage::connect(url)?),
            None => Box::new(jemput_sync_server::SqliteStorage::open(&self.data)?),
        })
    }

    /// Makes the demo kelurahan with `households` households in `rws` RWs, unless the
    /// store already holds households (a kept store: a million takes ~20 minutes).
    pub fn prepare(&self, bin: &Path, households: usize, rws: u16) -> anyhow::Result<u64> {
        let held = self.open()?.household_count()?;
        if held > 0 {
            eprintln!("the store already holds {held} households: using them");
            return Ok(held);
        }
        eprintln!("setting up {households} households in {rws} RWs");
        admin(
            bin,
            &self.args,
            &[
                "demo",
                "--households",
                &households.to_string(),
                "--rws",
                &rws.to_string(),
            ],
        )?;
        Ok(households as u64)
    }

    /// On PostgreSQL, a freshly filled store is vacuumed and analysed before anything
    /// is measured: otherwise autovacuum's work on it lands on the first requests.
    pub fn settle(&self) -> anyhow::Result<()> {
        let Some(url) = &self.database else {
            return Ok(());
        };
        let out = Command::new("psql")
            .args([url.as_str(), "-q", "-c", "VACUUM ANALYZE"])
            .output()
            .context("psql (postgresql-client) to vacuum the bench's database")?;
        if !out.status.success() {
            bail!("VACUUM ANALYZE: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }
}

/// A prefix for this run's user names, so a kept store takes new kaders every run.
pub fn run_tag() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{secs:x}")
}

/// CPU time in nanoseconds of the server process (every live thread, from
/// `schedstat`), and on PostgreSQL of every live `postgres` process: fine enough to
/// time one request when requests come one at a time.
pub fn cpu_ns(pid: u32, postgres: bool) -> u64 {
    let read = |path: String| -> u64 {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let mut total: u64 = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|t| read(format!("{}/schedstat", t.path().display())))
        .sum();
    if postgres {
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !name.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let comm = std::fs::read_to_string(format!("/proc/{name}/comm")).unwrap_or_default();
            if comm.trim() == "postgres" {
                total += read(format!("/proc/{name}/schedstat"));
            }
        }
    }
    total
}
