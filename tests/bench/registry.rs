//! `jemput-bench-registry`: importing a generated registry file of 100,000 households
//! (≈ 360,000 member rows, CSV) into the server's storage, re-importing it, and
//! exporting the kelurahan at a cut-off as CSV and XLSX. Real files, a real SQLite
//! database, real Automerge documents; prints a Markdown table.
//!
//! Peak memory is the process's high-water mark (VmHWM), reset after the file is
//! generated; CPU is user+system time over wall time (2.0 = both cores busy).

// A benchmark stops loudly at the first failure.
#![allow(clippy::expect_used)]
use std::path::Path;
use std::time::Instant;

use jemput_core::registry::{self, export, ImportOptions, Mapping};
use jemput_sync_server::{demo, SqliteStorage, Storage};

fn status_kb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Resets the peak-RSS counter (Linux `clear_refs` 5).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// User + system CPU seconds of this process.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

struct Measure {
    wall: f64,
    cpu: f64,
    peak_mb: f64,
}

fn measure<T>(f: impl FnOnce() -> T) -> (T, Measure) {
    reset_peak();
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    let out = f();
    let wall = t.elapsed().as_secs_f64();
    let m = Measure {
        wall,
        cpu: (cpu_seconds() - cpu0) / wall,
        peak_mb: status_kb("VmHWM:") as f64 / 1024.0,
    };
    (out, m)
}

fn options(partial: bool) -> ImportOptions {
    ImportOptions {
        kelurahan: demo::KELURAHAN.into(),
        kelurahan_bps: Some(demo::KELURAHAN_BPS.into()),
        partial,
        mapping: Mapping::default(),
        today: "2026-11-28".into(),
    }
}

fn import(storage: &SqliteStorage, file: &Path) -> (registry::Counts, usize) {
    let parsed = registry::parse_file(file, &options(false)).expect("parse");
    assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected.first());
    let n = parsed.households.len();
    let how = jemput_sync_server::service::registry::ImportRun {
        partial: false,
        user: "bench",
        confirm_missing: None,
        dry_run: false,
    };
    let (counts, _) = storage
        .import_registry(parsed, demo::KELURAHAN, &how, &mut |_, _| true)
        .expect("import");
    (counts, n)
}

fn main() {
    let households: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("dtks.csv");
    let rows = {
        let rows = demo::registry_rows(7, households, 24);
        demo::write_csv(&file, &rows).expect("write csv");
        rows.len() - 1
    };
    let size_mb = std::fs::metadata(&file).map_or(0, |m| m.len()) as f64 / 1e6;
    let storage = SqliteStorage::open(&dir.path().join("server")).expect("storage");

    let ((counts, n), first) = measure(|| import(&storage, &file));
    assert_eq!(counts.created as usize, n);
    let ((again, _), second) = measure(|| import(&storage, &file));
    assert_eq!(again.unchanged as usize, n);

    let cutoff = jemput_sync_server::service::now_ms();
    let ((rows_out, last_arrival_ms), read) = measure(|| {
        export::arrived(
            storage
                .export_rows(demo::KELURAHAN, cutoff)
                .expect("export"),
            |_| true,
        )
    });
    assert_eq!(rows_out.len(), n);
    let period =
        jemput_core::dashboard::Period::parse("2026-11", Default::default()).expect("period");
    let summary = export::summarise(&rows_out, &period);
    let about = export::About {
        cutoff_ms: cutoff,
        last_arrival_ms,
        period,
    };
    let csv_out = dir.path().join("update.csv");
    let xlsx_out = dir.path().join("update.xlsx");
    let (_, csv) = measure(|| {
        let rows = storage
            .export_rows(demo::KELURAHAN, cutoff)
            .expect("export");
        let (rows, _) = export::arrived(rows, |_| true);
        export::write(&csv_out, &rows, &summary, &about).expect("csv")
    });
    let (_, xlsx) = measure(|| {
        let rows = storage
            .export_rows(demo::KELURAHAN, cutoff)
            .expect("export");
        let (rows, _) = export::arrived(rows, |_| true);
        export::write(&xlsx_out, &rows, &summary, &about).expect("xlsx")
    });
    let xlsx_mb = std::fs::metadata(&xlsx_out).map_or(0, |m| m.len()) as f64 / 1e6;

    println!(
        "{n} households, {rows} member rows, CSV {size_mb:.1} MB; {} cores\n",
        std::thread::available_parallelism().map_or(1, |c| c.get())
    );
    println!("| measure | time | households/s | CPU (cores busy) | peak memory | target |");
    println!("|---|---|---|---|---|---|");
    let line = |what: &str, m: &Measure, target: &str| {
        println!(
            "| {what} | {:.2} s | {:.0} | {:.2} | {:.0} MB | {target} |",
            m.wall,
            n as f64 / m.wall,
            m.cpu,
            m.peak_mb
        );
    };
    line(
        "import, new kelurahan (read, check, build, write)",
        &first,
        "≥ 4,000/s, ≤ 1 GB",
    );
    line("re-import of the same file (nothing changes)", &second, "");
    line("export: read rows at a cut-off", &read, "");
    line("export to CSV (+ summary CSV)", &csv, "≥ 50,000/s");
    line(
        &format!("export to XLSX (two sheets, {xlsx_mb:.1} MB)"),
        &xlsx,
        "≥ 50,000/s",
    );
}
