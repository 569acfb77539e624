//! `jemput-bench-ingest`: what accepting a visit costs the server. A real
//! `jemput-sync-server serve` process over HTTP, on SQLite (`--data`, kept or fresh) or
//! PostgreSQL (`--database URL`), with the demo kelurahan of `--households` households
//! in 24 RWs. Kaders of their own RW (so no other device receives what they send) push
//! visits — every criterion answered, built with `jemput_core` as a device builds them:
//!
//! 1. one visit per sync, on households with few visits, one request at a time;
//! 2. 50 visits per sync (50 households);
//! 3. one visit per sync on households that already hold 100 visits, one a month for
//!    the 100 months before (made beforehand and stored as the registry's are, since
//!    the server refuses a visit dated far from when it arrives);
//! 4. `--concurrent` kaders pushing one visit each at once, round after round.
//!
//! For 1–3 the server's CPU time is read from the kernel (`schedstat`: every thread of
//! the server, and on PostgreSQL every `postgres` process) before and after each
//! request, so each request has its own figure; the table gives the median and p90 per
//! accepted visit. For 4 it gives the latency (HTTP round trip) p50/p99.
//!
//! ```text
//! jemput-bench-ingest [--households 100000] [--visits 200] [--concurrent 16]
//!                     [--rounds 25] [--database URL | --data DIR]
//! ```

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use jemput_core::household::{At, Author, Clock, Household, SystemClock, VisitInput};
use jemput_core::sync::{Area, PushDoc, SyncRequest};
use jemput_core::IndicatorSet;
use jemput_sync_server::demo;
use jemput_sync_server::service::{NewHousehold, Role};
use rand::SeedableRng;

#[path = "kit.rs"]
#[allow(dead_code)] // each bench uses part of the kit
mod kit;
use kit::{Kader, PASSWORD};

struct Args {
    households: usize,
    visits: usize,
    concurrent: usize,
    rounds: usize,
    database: Option<String>,
    data: Option<PathBuf>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        households: 100_000,
        visits: 200,
        concurrent: 16,
        rounds: 25,
        database: None,
        data: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--households" => a.households = value()?.parse()?,
            "--visits" => a.visits = value()?.parse()?,
            "--concurrent" => a.concurrent = value()?.parse()?,
            "--rounds" => a.rounds = value()?.parse()?,
            "--database" => a.database = Some(value()?),
            "--data" => a.data = Some(value()?.into()),
            other => bail!("unknown argument {other} (see the file's header)"),
        }
    }
    if a.concurrent == 0 || a.concurrent > 24 || a.visits == 0 {
        bail!("--concurrent is 1 to 24 (one RW each) and --visits positive");
    }
    Ok(a)
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    let tmp = tempfile::tempdir()?;
    let store = kit::Store::new(args.database.clone(), args.data.clone(), tmp.path());
    let bin = kit::sibling("jemput-sync-server")?;
    let held = store.prepare(&bin, args.households, 24)?;
    store.settle()?;
    let tag = kit::run_tag();
    eprintln!("making {} households with 100 visits each", args.visits);
    let history = with_history(&tag, args.visits, 100)?;
    let history_ids: HashSet<String> = history.iter().map(|h| h.id.clone()).collect();
    let names: Vec<String> = (0..args.concurrent)
        .map(|i| format!("ingest-{tag}-{i}"))
        .collect();
    {
        let storage = store.open()?;
        storage.insert_households(&history)?;
        for (i, name) in names.iter().enumerate() {
            storage.add_user(name, Role::Kader, PASSWORD)?;
            storage.assign(
                name,
                &Area {
                    kelurahan: demo::KELURAHAN.into(),
                    rw: Some(1 + i as u16),
                },
            )?;
        }
    }
    let mut server = kit::serve(&bin, &store.args, 64)?;
    let url = server.1.clone();
    let result = run(&args, &url, server.0.id(), &names, held, &history_ids);
    let _ = server.0.kill();
    let _ = server.0.wait();
    result
}

/// One request's figures.
struct Cost {
    visits: usize,
    cpu_ms: f64,
}

fn run(
    args: &Args,
    url: &str,
    pid: u32,
    names: &[String],
    held: u64,
    history: &HashSet<String>,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    let set = Arc::new(IndicatorSet::bps14());
    let postgres = args.database.is_some();
    // Seeded afresh each run: a kept store already holds the last run's visit ids.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(rand::random());
    eprintln!("logging in {} kaders and pulling their RWs", names.len());
    let mut kaders: Vec<Kader> = rt.block_on(async {
        let mut out = Vec::new();
        for name in names {
            out.push(kit::login(&http, url, name, 3_000, history).await?);
        }
        anyhow::Ok(out)
    })?;
    let first = kaders.first_mut().context("a kader")?;
    // Households with few visits and none this month (a kept store holds earlier runs'
    // visits and 100-visit households): each push below is its month's first visit.
    let month = SystemClock.today().get(..7).unwrap_or_default().to_string();
    let mut ids: Vec<String> = first
        .docs
        .iter()
        .filter(|(id, bytes)| !history.contains(*id) && fresh(bytes, &set, &month))
        .map(|(id, _)| id.clone())
        .collect();
    ids.sort();
    if ids.len() < args.visits + 50 {
        bail!(
            "RW 1 has {} households with few visits and none this month: {} are needed",
            ids.len(),
            args.visits + 50
        );
    }
    let mut rows: Vec<(String, Vec<Cost>)> = Vec::new();

    eprintln!("syncs with nothing to send");
    let mut costs = Vec::new();
    for _ in 0..args.visits {
        costs.push(rt.block_on(timed(&http, url, first, Vec::new(), pid, postgres))?);
    }
    rows.push(("nothing (an idle sync, for reference)".into(), costs));

    eprintln!("one visit per sync");
    let mut costs = Vec::new();
    for id in &ids[..args.visits] {
        let push = vec![kit::visit_on(first, id, &set, &mut rng)?];
        costs.push(rt.block_on(timed(&http, url, first, push, pid, postgres))?);
    }
    rows.push(("one visit per sync".into(), costs));

    eprintln!("50 visits per sync");
    let mut costs = Vec::new();
    for n in 0..((ids.len() - args.visits) / 50).min(4) {
        let mut push = Vec::new();
        for k in 0..50 {
            // Households the first phase left alone: each gets its month's first visit.
            let id = &ids[args.visits + n * 50 + k];
            push.push(kit::visit_on(first, id, &set, &mut rng)?);
        }
        costs.push(rt.block_on(timed(&http, url, first, push, pid, postgres))?);
    }
    rows.push(("50 visits per sync".into(), costs));

    eprintln!("one visit per sync on a household with 100 visits");
    let mut costs = Vec::new();
    let mut busy: Vec<&String> = history.iter().collect();
    busy.sort();
    for id in busy {
        let push = vec![kit::visit_on(first, id, &set, &mut rng)?];
        costs.push(rt.block_on(timed(&http, url, first, push, pid, postgres))?);
    }
    rows.push((
        "one visit per sync, household with 100 visits".into(),
        costs,
    ));

    eprintln!("{} kaders pushing at once", kaders.len());
    let latencies = rt.block_on(concurrent(&http, url, &mut kaders, &set, args.rounds))?;

    println!(
        "Ingest, {} households in one kelurahan (24 RWs), {}:",
        held,
        if postgres { "PostgreSQL" } else { "SQLite" }
    );
    println!();
    println!("| pushes | requests | visits | server CPU ms per visit (per request when none), median | p90 | mean |");
    println!("|---|---|---|---|---|---|");
    for (name, costs) in &rows {
        let mut per: Vec<f64> = costs
            .iter()
            .map(|c| c.cpu_ms / c.visits.max(1) as f64)
            .collect();
        per.sort_by(f64::total_cmp);
        let visits: usize = costs.iter().map(|c| c.visits).sum();
        let total: f64 = costs.iter().map(|c| c.cpu_ms).sum();
        println!(
            "| {name} | {} | {visits} | {:.3} | {:.3} | {:.3} |",
            costs.len(),
            pct(&per, 50),
            pct(&per, 90),
            total / visits.max(costs.len()).max(1) as f64
        );
    }
    println!();
    println!(
        "{} kaders pushing one visit each at once, {} rounds: {} pushes, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        kaders.len(),
        args.rounds,
        latencies.len(),
        pct(&latencies, 50),
        pct(&latencies, 99),
        latencies.last().copied().unwrap_or(0.0)
    );
    Ok(())
}

fn pct(sorted: &[f64], p: usize) -> f64 {
    sorted
        .get((sorted.len() * p / 100).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0)
}

/// One sync carrying `push`, alone on the server: its CPU time, and a check that every
/// visit was accepted.
async fn timed(
    http: &reqwest::Client,
    url: &str,
    kader: &mut Kader,
    push: Vec<PushDoc>,
    pid: u32,
    postgres: bool,
) -> anyhow::Result<Cost> {
    let visits = push.len();
    let before = kit::cpu_ns(pid, postgres);
    send(http, url, &kader.token, &mut kader.cursors, push).await?;
    let cpu_ms = kit::cpu_ns(pid, postgres).saturating_sub(before) as f64 / 1e6;
    Ok(Cost { visits, cpu_ms })
}

/// One sync; fails unless the server accepted everything pushed.
async fn send(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    cursors: &mut std::collections::BTreeMap<String, u64>,
    push: Vec<PushDoc>,
) -> anyhow::Result<()> {
    let req = SyncRequest {
        cursors: cursors.clone(),
        push,
        ..SyncRequest::default()
    };
    let msg = kit::post_sync(http, url, token, &req).await?;
    if let Some(r) = msg.rejected.first() {
        bail!(
            "the server refused {} pushed documents, the first {}: {} ({})",
            msg.rejected.len(),
            r.id,
            r.code,
            r.reason
        );
    }
    *cursors = msg.cursors;
    Ok(())
}

/// Every kader pushes one visit; when all are answered, the next round. Latencies
/// (ms), sorted.
async fn concurrent(
    http: &reqwest::Client,
    url: &str,
    kaders: &mut [Kader],
    set: &IndicatorSet,
    rounds: usize,
) -> anyhow::Result<Vec<f64>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(rand::random());
    let mut out = Vec::new();
    for _ in 0..rounds {
        let mut tasks = Vec::new();
        for kader in kaders.iter_mut() {
            let push = kit::one_visit(kader, set, &mut rng)?;
            let token = kader.token.clone();
            let mut cursors = kader.cursors.clone();
            let http = http.clone();
            let url = url.to_string();
            tasks.push(tokio::spawn(async move {
                let started = Instant::now();
                send(&http, &url, &token, &mut cursors, push).await?;
                anyhow::Ok((started.elapsed().as_secs_f64() * 1e3, cursors))
            }));
        }
        for (task, kader) in tasks.into_iter().zip(kaders.iter_mut()) {
            let (ms, cursors) = task.await??;
            kader.cursors = cursors;
            out.push(ms);
        }
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

/// Whether a household has fewer than 5 visits and none in `month` (`YYYY-MM`).
fn fresh(bytes: &[u8], set: &IndicatorSet, month: &str) -> bool {
    let Ok(hh) = Household::load(bytes) else {
        return false;
    };
    let view = hh.view(set);
    let Some(visits) = view["visits"].as_object() else {
        return true;
    };
    visits.len() < 5
        && !visits
            .values()
            .any(|v| v["date"].as_str().is_some_and(|d| d.starts_with(month)))
}

/// 10:00 WIB on the 15th of the month `back` calendar months before this one (ms).
fn months_ago(back: usize) -> anyhow::Result<i64> {
    let now = time::OffsetDateTime::now_utc() + time::Duration::hours(7);
    let index = i64::from(now.year()) * 12 + i64::from(u8::from(now.month())) - 1 - back as i64;
    let month = time::Month::try_from((index.rem_euclid(12) + 1) as u8)?;
    let date = time::Date::from_calendar_date(index.div_euclid(12) as i32, month, 15)?;
    Ok(date.with_hms(3, 0, 0)?.assume_utc().unix_timestamp() * 1000)
}

/// `count` households of RW 1, each with `visits` found visits (all 14 answers), one a
/// calendar month up to last month, by a kader of earlier years.
fn with_history(tag: &str, count: usize, visits: usize) -> anyhow::Result<Vec<NewHousehold>> {
    let set = IndicatorSet::bps14();
    // Seeded by the run, so a kept store takes new households every run.
    let seed = u64::from_str_radix(tag, 16).unwrap_or(3);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = demo::households_n(&mut rng, seed, count, 1).map_err(anyhow::Error::msg)?;
    let author = Author::new(&format!("5e{:030x}", 7u64), &format!("kader-lama-{tag}"))?;
    let input = VisitInput {
        result: "found".into(),
        answers: serde_json::from_value(set.answers_template()["answers"].clone())?,
        ..VisitInput::default()
    };
    for h in &mut out {
        let mut hh = Household::load_as(&h.doc, &author)?;
        for m in (1..=visits).rev() {
            hh.record_visit(&input, &set, &author, &At(months_ago(m)?), &mut rng)?;
        }
        h.doc = hh.save();
        h.by = author.user.clone();
    }
    Ok(out)
}
