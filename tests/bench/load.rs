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
//!                   [--households 2000] [--rws 20] [--database URL | --data DIR]
//!                   [--max-in-flight 64]
//! ```
//!
//! `--data DIR` keeps the SQLite store in DIR: a store that already holds households is
//! used as it is (so a million-household store is built once); so is a `--database`
//! that holds households.
//!
//! The kaders are lightweight: each keeps its RW's documents in memory and builds its
//! visits with `jemput_core` as a device does, so the bench itself costs little CPU
//! beside the server on the same machine.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use jemput_core::sync::Area;
use jemput_core::IndicatorSet;
use jemput_sync_server::demo;
use jemput_sync_server::service::Role;
use rand::{Rng, SeedableRng};

#[path = "kit.rs"]
#[allow(dead_code)] // each bench uses part of the kit
mod kit;
use kit::{Kader, Sample, PASSWORD};

struct Args {
    kaders: usize,
    seconds: u64,
    interval_ms: u64,
    visits: f64,
    households: usize,
    rws: u16,
    database: Option<String>,
    data: Option<PathBuf>,
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
        data: None,
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
            "--data" => a.data = Some(value()?.into()),
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

fn main() -> anyhow::Result<()> {
    let mut args = args()?;
    let tmp = tempfile::tempdir()?;
    let store = kit::Store::new(args.database.clone(), args.data.clone(), tmp.path());
    let bin = kit::sibling("jemput-sync-server")?;
    // A kept store's own count, not --households: the table says what was measured.
    args.households = store.prepare(&bin, args.households, args.rws)? as usize;
    store.settle()?;
    eprintln!("adding {} kaders", args.kaders);
    let tag = kit::run_tag();
    let names: Vec<String> = (0..args.kaders)
        .map(|i| format!("load-{tag}-{i}"))
        .collect();
    {
        let storage = store.open()?;
        for (i, name) in names.iter().enumerate() {
            storage.add_user(name, Role::Kader, PASSWORD)?;
            storage.assign(
                name,
                &Area {
                    kelurahan: demo::KELURAHAN.into(),
                    rw: Some(1 + (i % args.rws as usize) as u16),
                },
            )?;
        }
    }
    let mut server = kit::serve(&bin, &store.args, args.max_in_flight)?;
    let url = server.1.clone();
    let result = run_load(&args, &url, server.0.id(), &names);
    let _ = server.0.kill();
    let _ = server.0.wait();
    result
}

fn run_load(args: &Args, url: &str, pid: u32, names: &[String]) -> anyhow::Result<()> {
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
        for chunk in names.chunks(8) {
            let mut tasks = Vec::new();
            for name in chunk {
                let http = http.clone();
                let url = url.to_string();
                let name = name.clone();
                // Enough households to visit; a million-household RW is not kept whole.
                tasks.push(tokio::spawn(async move {
                    kit::login(&http, &url, &name, 2_000, &Default::default()).await
                }));
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
        let before = kit::cpu_ticks(pid, postgres);
        let samples = rt.block_on(phase_run(
            &http,
            url,
            &kaders,
            share,
            args,
            Arc::clone(&set),
        ))?;
        let elapsed = args.seconds as f64;
        let cpu_ms = kit::cpu_ticks(pid, postgres).saturating_sub(before) as f64 * 1000.0
            / kit::ticks_per_second();
        rows.push((phase, samples, elapsed, cpu_ms));
    }
    let rss = kit::peak_rss_kb(pid);
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
    let run_seed: u64 = rand::random();
    let mut tasks = Vec::new();
    for (i, k) in kaders.iter().enumerate() {
        let http = http.clone();
        let url = url.to_string();
        let samples = Arc::clone(&samples);
        let set = Arc::clone(&set);
        let interval = Duration::from_millis(args.interval_ms);
        let mut kader = k.clone();
        tasks.push(tokio::spawn(async move {
            // A fresh seed per run: a kept store already holds the last run's visit ids.
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(run_seed ^ i as u64);
            let phase = interval.mul_f64(rng.gen::<f64>());
            let mut next = tokio::time::Instant::now() + phase;
            loop {
                if next.into_std() >= end {
                    break;
                }
                tokio::time::sleep_until(next).await;
                next += interval;
                let push = match rng.gen::<f64>() < share {
                    true => match kit::one_visit(&mut kader, &set, &mut rng) {
                        Ok(push) => push,
                        Err(e) => {
                            eprintln!("a visit could not be recorded: {e:#}");
                            Vec::new()
                        }
                    },
                    false => Vec::new(),
                };
                let visit = !push.is_empty();
                let sample = kit::sync_once(&http, &url, &mut kader, push, visit).await;
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
