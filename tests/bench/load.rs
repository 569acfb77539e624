//! `jemput-bench-load`: N simulated kaders, each its own user, login and device, sync a
//! real `jemput-sync-server serve` process over HTTP on a schedule — every kader once
//! per `--interval-ms`, at a random phase — first with nothing to send ("nothing
//! changed"), then with a one-visit push in `--visits` of the syncs. Against SQLite
//! (`--data`, the default) or PostgreSQL (`--database URL`, an empty database). Prints
//! a Markdown table: syncs/s, latency p50/p95/p99 (a busy server's `503` and the wait it
//! asks for included), errors, server CPU per sync and per accepted visit (the server
//! process's, and on PostgreSQL its backends' too, from /proc), and the server's peak
//! RSS.
//!
//! ```text
//! jemput-bench-load [--kaders 50] [--seconds 20] [--interval-ms 5000] [--visits 0.05]
//!                   [--households 2000] [--rws 20] [--database URL] [--max-in-flight 64]
//! ```
//!
//! The kaders are lightweight: each keeps its RW's documents in memory and builds its
//! visits with `jemput_core` as a device does, so the bench itself costs little CPU
//! beside the server on the same machine.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use automerge::ActorId;
use jemput_core::household::{Author, Household, VisitInput};
use jemput_core::sync::{self, Area, PushDoc, SyncRequest, SyncResponse};
use jemput_core::{IndicatorSet, SystemClock};
use jemput_sync_server::service::Role;
use jemput_sync_server::{demo, Storage};
use rand::{Rng, SeedableRng};
use serde_bytes::ByteBuf;

const PASSWORD: &str = "bench-password-123";

struct Args {
    kaders: usize,
    seconds: u64,
    interval_ms: u64,
    visits: f64,
    households: usize,
    rws: u16,
    database: Option<String>,
    max_in_flight: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        kaders: 50,
        seconds: 20,
        interval_ms: 5_000,
        visits: 0.05,
        households: 2_000,
        rws: 20,
        database: None,
        max_in_flight: 64,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--kaders" => a.kaders = value()?.parse()?,
            "--seconds" => a.seconds = value()?.parse()?,
            "--interval-ms" => a.interval_ms = value()?.parse()?,
            "--visits" => a.visits = value()?.parse()?,
            "--households" => a.households = value()?.parse()?,
            "--rws" => a.rws = value()?.parse()?,
            "--database" => a.database = Some(value()?),
            "--max-in-flight" => a.max_in_flight = value()?.parse()?,
            other => bail!("unknown argument {other} (see the file's header)"),
        }
    }
    if a.kaders == 0 || a.rws == 0 || a.interval_ms == 0 {
        bail!("--kaders, --rws and --interval-ms must be positive");
    }
    if a.rws > 24 {
        // The demo kelurahan has at most 24 RWs: a kader of RW 25 would hold nothing.
        eprintln!("the demo kelurahan has 24 RWs at most: --rws 24");
        a.rws = 24;
    }
    Ok(a)
}

/// One sync as a kader saw it.
struct Sample {
    ms: f64,
    ok: bool,
    busy: u32,
    visit: bool,
}

/// A simulated kader: its session, cursors and its RW's documents.
struct Kader {
    token: String,
    author: Author,
    cursors: BTreeMap<String, u64>,
    docs: HashMap<String, Vec<u8>>,
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("server");
    let store_args: Vec<String> = match &args.database {
        Some(url) => vec!["--database".into(), url.clone()],
        None => vec!["--data".into(), data.display().to_string()],
    };
    let bin = sibling("jemput-sync-server")?;
    eprintln!(
        "setting up {} households in {} RWs",
        args.households, args.rws
    );
    admin(
        &bin,
        &store_args,
        &[
            "demo",
            "--households",
            &args.households.to_string(),
            "--rws",
            &args.rws.to_string(),
        ],
    )?;
    eprintln!("adding {} kaders", args.kaders);
    {
        let storage: Box<dyn Storage> = match &args.database {
            Some(url) => Box::new(jemput_sync_server::PostgresStorage::connect(url)?),
            None => Box::new(jemput_sync_server::SqliteStorage::open(&data)?),
        };
        for i in 0..args.kaders {
            let name = format!("load-kader-{i}");
            storage.add_user(&name, Role::Kader, PASSWORD)?;
            storage.assign(
                &name,
                &Area {
                    kelurahan: demo::KELURAHAN.into(),
                    rw: Some(1 + (i % args.rws as usize) as u16),
                },
            )?;
        }
    }
    let mut server = serve(&bin, &store_args, args.max_in_flight)?;
    let url = server.1.clone();
    let result = run_load(&args, &url, server.0.id());
    let _ = server.0.kill();
    let _ = server.0.wait();
    result
}

fn run_load(args: &Args, url: &str, pid: u32) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.kaders.min(512))
        .timeout(Duration::from_secs(120))
        .build()?;
    let set = Arc::new(IndicatorSet::bps14());
    eprintln!("logging in and first syncs");
    let kaders: Vec<Kader> = rt.block_on(async {
        let mut out = Vec::new();
        // A few at a time: the server checks passwords on 4 threads.
        for chunk in (0..args.kaders).collect::<Vec<_>>().chunks(8) {
            let mut tasks = Vec::new();
            for &i in chunk {
                let http = http.clone();
                let url = url.to_string();
                tasks.push(tokio::spawn(async move { login(&http, &url, i).await }));
            }
            for t in tasks {
                out.push(t.await??);
            }
        }
        anyhow::Ok(out)
    })?;
    let postgres = args.database.is_some();
    let mut rows = Vec::new();
    for (phase, share) in [("nothing changed", 0.0), ("with visits", args.visits)] {
        let before = cpu_ticks(pid, postgres);
        let samples = rt.block_on(phase_run(
            &http,
            url,
            &kaders,
            share,
            args,
            Arc::clone(&set),
        ))?;
        let elapsed = args.seconds as f64;
        let cpu_ms =
            cpu_ticks(pid, postgres).saturating_sub(before) as f64 * 1000.0 / ticks_per_second();
        rows.push((phase, samples, elapsed, cpu_ms));
    }
    let rss = peak_rss_kb(pid);
    let idle_cpu_per_sync = rows
        .first()
        .map(|(_, s, _, cpu)| cpu / s.len().max(1) as f64)
        .unwrap_or(0.0);
    println!(
        "{} kaders, each syncing every {} ms ({:.0} syncs/s offered), {} households in {} RWs, {} s per phase, {}:",
        args.kaders,
        args.interval_ms,
        args.kaders as f64 * 1000.0 / args.interval_ms as f64,
        args.households,
        args.rws,
        args.seconds,
        if postgres { "PostgreSQL" } else { "SQLite" }
    );
    println!();
    println!("| phase | syncs | syncs/s | visits | p50 ms | p95 ms | p99 ms | errors | busy (503) | server CPU ms/sync | server CPU ms/visit | server peak RSS |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (phase, samples, elapsed, cpu) in &rows {
        let mut ms: Vec<f64> = samples.iter().filter(|s| s.ok).map(|s| s.ms).collect();
        ms.sort_by(f64::total_cmp);
        let pct = |p: usize| {
            ms.get((ms.len() * p / 100).min(ms.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0.0)
        };
        let visits = samples.iter().filter(|s| s.visit && s.ok).count();
        let errors = samples.iter().filter(|s| !s.ok).count();
        let busy: u32 = samples.iter().map(|s| s.busy).sum();
        let per_sync = cpu / samples.len().max(1) as f64;
        // A visit's cost: what the phase cost beyond as many syncs with nothing to send.
        let per_visit = match visits {
            0 => "–".to_string(),
            n => format!(
                "{:.2}",
                (cpu - idle_cpu_per_sync * (samples.len() - n) as f64) / n as f64
            ),
        };
        println!(
            "| {phase} | {} | {:.1} | {visits} | {:.1} | {:.1} | {:.1} | {errors} | {busy} | {per_sync:.2} | {per_visit} | {} MB |",
            samples.len(),
            samples.len() as f64 / elapsed,
            pct(50),
            pct(95),
            pct(99),
            rss / 1024
        );
    }
    let errors: usize = rows
        .iter()
        .map(|(_, s, _, _)| s.iter().filter(|s| !s.ok).count())
        .sum();
    if errors > 0 {
        bail!("{errors} syncs failed");
    }
    Ok(())
}

/// Every kader syncs once per interval for `args.seconds`, at its own random phase.
async fn phase_run(
    http: &reqwest::Client,
    url: &str,
    kaders: &[Kader],
    share: f64,
    args: &Args,
    set: Arc<IndicatorSet>,
) -> anyhow::Result<Vec<Sample>> {
    let samples = Arc::new(Mutex::new(Vec::new()));
    let end = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for (i, k) in kaders.iter().enumerate() {
        let http = http.clone();
        let url = url.to_string();
        let samples = Arc::clone(&samples);
        let set = Arc::clone(&set);
        let interval = Duration::from_millis(args.interval_ms);
        let mut kader = Kader {
            token: k.token.clone(),
            author: k.author.clone(),
            cursors: k.cursors.clone(),
            docs: k.docs.clone(),
        };
        tasks.push(tokio::spawn(async move {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(i as u64);
            let phase = interval.mul_f64(rng.gen::<f64>());
            let mut next = tokio::time::Instant::now() + phase;
            loop {
                if next.into_std() >= end {
                    break;
                }
                tokio::time::sleep_until(next).await;
                next += interval;
                let push = match rng.gen::<f64>() < share {
                    true => match one_visit(&mut kader, &set, &mut rng) {
                        Ok(push) => push,
                        Err(e) => {
                            eprintln!("a visit could not be recorded: {e:#}");
                            Vec::new()
                        }
                    },
                    false => Vec::new(),
                };
                let visit = !push.is_empty();
                let sample = sync_once(&http, &url, &mut kader, push, visit).await;
                samples
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(sample);
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let out = std::mem::take(&mut *samples.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(out)
}

/// One sync round trip (and its repeats while the server says `busy`).
async fn sync_once(
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
fn one_visit(
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
    let bytes = &kader.docs[&id];
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
    kader.docs.insert(id.clone(), hh.save_nocompress());
    Ok(vec![PushDoc {
        id,
        changes: ByteBuf::from(changes),
    }])
}

/// Logs kader `i` in (its own device and actor) and pulls its RW whole.
async fn login(http: &reqwest::Client, url: &str, i: usize) -> anyhow::Result<Kader> {
    let user = format!("load-kader-{i}");
    let actor = ActorId::from(rand::random::<[u8; 16]>().as_slice());
    let body = serde_json::json!({
        "user": user, "password": PASSWORD, "device_name": format!("bench {i}"),
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
        let bytes = http
            .post(format!("{url}/v1/sync"))
            .bearer_auth(&kader.token)
            .header("content-type", sync::CONTENT_TYPE)
            .body(sync::encode(&req))
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        let msg: SyncResponse = sync::decode(&bytes)?;
        for d in msg.docs.into_iter().filter(|d| d.snapshot) {
            kader.docs.insert(d.id, d.data.into_vec());
        }
        kader.cursors = msg.cursors;
        if !msg.more {
            break;
        }
    }
    if kader.docs.is_empty() {
        bail!("load-kader-{i} received no household of its RW");
    }
    Ok(kader)
}

/// A binary built beside this one.
fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let path = jemput_tests::bin(name);
    if !path.exists() {
        bail!(
            "{} not built (cargo build -p jemput-sync-server)",
            path.display()
        );
    }
    Ok(path)
}

fn admin(bin: &Path, store: &[String], args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(bin).args(store).args(args).output()?;
    if !out.status.success() {
        bail!("{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Starts `serve` on a free loopback port; returns it and its URL.
fn serve(bin: &Path, store: &[String], max_in_flight: usize) -> anyhow::Result<(Child, String)> {
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
        .stderr(Stdio::null())
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
fn cpu_ticks(pid: u32, postgres: bool) -> u64 {
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

fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// The server's peak resident memory (kB).
fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
