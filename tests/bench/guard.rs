//! `jemput-bench-guard`: what the rule book costs the server. The same visits (all 14
//! answers, one household each) pushed one per request into two servers built alike,
//! one judging every operation with the rule book and one without it; the server's
//! whole `sync` call is timed (decode, merge, judge, write, page). Real SQLite files;
//! prints a Markdown table.

use std::time::Instant;

use automerge::ChangeHash;
use jemput_core::household::{Author, Household, VisitInput};
use jemput_core::sync::{Area, PushDoc, SyncRequest};
use jemput_core::{IndicatorSet, SystemClock};
use jemput_sync_server::service::Role;
use jemput_sync_server::{demo, SqliteStorage, Storage};

const VISITS: usize = 300;
const SEED: u64 = 11;

fn visit_input(set: &IndicatorSet) -> VisitInput {
    let answers = set.answers_template()["answers"].clone();
    VisitInput {
        result: "found".into(),
        answers: serde_json::from_value(answers).unwrap_or_default(),
        ..VisitInput::default()
    }
}

fn run(book_on: bool, pushes: &[PushDoc]) -> anyhow::Result<Vec<f64>> {
    let dir = tempfile::tempdir()?;
    let mut s = SqliteStorage::open(dir.path())?;
    if !book_on {
        s = s.without_rule_book();
    }
    s.insert_households(&demo::households(SEED).map_err(anyhow::Error::msg)?)?;
    s.add_user("kader", Role::Kader, "kata-sandi-bench")?;
    s.assign(
        "kader",
        &Area {
            kelurahan: demo::KELURAHAN.into(),
            rw: None,
        },
    )?;
    let author = author()?;
    let ok = s
        .login(
            "kader",
            "kata-sandi-bench",
            "bench",
            None,
            std::slice::from_ref(&author.actor),
            true,
        )?
        .ok_or_else(|| anyhow::anyhow!("login"))?;
    let session = s
        .authenticate(&ok.token)?
        .ok_or_else(|| anyhow::anyhow!("token"))?;
    let mut cursors = std::collections::BTreeMap::new();
    // Pull everything first, so each timed request carries one visit and pulls nothing.
    loop {
        let resp = s.sync(
            &session,
            &SyncRequest {
                cursors: cursors.clone(),
                ..SyncRequest::default()
            },
            1000,
        )?;
        cursors = resp.cursors;
        if !resp.more {
            break;
        }
    }
    let mut times = Vec::new();
    for p in pushes {
        let req = SyncRequest {
            cursors: cursors.clone(),
            push: vec![p.clone()],
            ..SyncRequest::default()
        };
        let t = Instant::now();
        let resp = s.sync(&session, &req, 1000)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(resp.rejected.is_empty(), "refused: {:?}", resp.rejected);
        cursors = resp.cursors;
    }
    Ok(times)
}

fn author() -> anyhow::Result<Author> {
    Ok(Author::new("beec0000000000000000000000000001", "kader")?)
}

fn stats(t: &[f64]) -> (f64, f64) {
    let mut v = t.to_vec();
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[v.len() * 9 / 10])
}

/// The guard alone (decode, merge, actors, rule book, shape, save), in memory: the
/// server CPU a visit costs, without SQLite's fsync. On and off interleaved per visit.
fn guard_only(
    households: &[jemput_sync_server::service::NewHousehold],
    pushes: &[PushDoc],
    author: &Author,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    use jemput_sync_server::guard::{check_push, Limits, Origin, RuleBook};
    let set = IndicatorSet::bps14();
    let origin = Origin {
        device: "d-bench".into(),
        user: "kader".into(),
        role: Role::Kader,
        revoked: false,
        registered_ms: jemput_sync_server::service::now_ms(),
        areas: vec![Area {
            kelurahan: demo::KELURAHAN.into(),
            rw: None,
        }],
        actors: [author.actor.clone()].into_iter().collect(),
        restarting: false,
        relays_after_restore: false,
    };
    let limits = Limits::default();
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for _round in 0..5 {
        for (h, p) in households.iter().zip(pushes) {
            for (book, times) in [(RuleBook::Off, &mut off), (RuleBook::On, &mut on)] {
                let mut owner = |_: &automerge::ActorId| Ok(None);
                let now = jemput_sync_server::service::now_ms();
                let t = Instant::now();
                let verdict = check_push(
                    Some((&h.doc, &h.kelurahan, h.rw)),
                    p,
                    &origin,
                    &mut owner,
                    now,
                    &limits,
                    &set,
                    book,
                )?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                anyhow::ensure!(verdict.is_ok(), "refused: {:?}", verdict.err());
            }
        }
    }
    Ok((on, off))
}

fn main() -> anyhow::Result<()> {
    let set = IndicatorSet::bps14();
    let households = demo::households(SEED).map_err(anyhow::Error::msg)?;
    let author = author()?;
    let input = visit_input(&set);
    let mut rng = rand::thread_rng();
    let mut pushes = Vec::new();
    for h in households.iter().take(VISITS) {
        let mut hh = Household::load_as(&h.doc, &author)?;
        let before: Vec<ChangeHash> = hh.heads();
        hh.record_visit(&input, &set, &author, &SystemClock, &mut rng)?;
        let mut buf = Vec::new();
        for c in hh.doc_mut().get_changes(&before) {
            buf.extend_from_slice(c.raw_bytes());
        }
        pushes.push(PushDoc {
            id: h.id.clone(),
            changes: serde_bytes::ByteBuf::from(buf),
        });
    }
    let (g_on, g_off) = guard_only(&households, &pushes, &author)?;
    // Whole requests: a warm-up, then off and on twice each, alternating.
    run(true, &pushes[..20])?;
    let mut off = run(false, &pushes)?;
    let mut on = run(true, &pushes)?;
    off.extend(run(false, &pushes)?);
    on.extend(run(true, &pushes)?);
    println!("| per accepted visit ({VISITS} visits, 14 answers each) | median | p90 |");
    println!("|---|---|---|");
    let rows = [
        ("guard alone, in memory", &g_off, &g_on),
        ("whole sync request (SQLite, fsync)", &off, &on),
    ];
    for (label, off, on) in rows {
        let (off_med, off_p90) = stats(off);
        let (on_med, on_p90) = stats(on);
        println!("| {label}: rule book off | {off_med:.3} ms | {off_p90:.3} ms |");
        println!("| {label}: rule book on | {on_med:.3} ms | {on_p90:.3} ms |");
        println!(
            "| {label}: added by the rule book | {:.3} ms ({:+.1} %) | {:.3} ms |",
            on_med - off_med,
            (on_med - off_med) / off_med * 100.0,
            on_p90 - off_p90
        );
    }
    Ok(())
}
