//! `jemput`: the headless Jemput client for tests, scripts and load simulation. Same
//! core and same sync client as the app.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use jemput_client::home::DeviceError;
use jemput_client::{Device, SyncClient};
use jemput_core::conflicts::{ConflictKind, Decision};
use jemput_core::household::{Proposal, VisitInput};
use jemput_core::store::ListFilter;
use jemput_core::IndicatorSet;

#[derive(Parser)]
#[command(name = "jemput", about = "Headless Jemput client")]
struct Cli {
    /// Device home: config and local store.
    #[arg(long, env = "JEMPUT_HOME")]
    home: Option<PathBuf>,
    /// Indicator set file (default: the BPS 14 set built in).
    #[arg(long)]
    indicators: Option<PathBuf>,
    /// Read the store's PIN from the first line of stdin (also: JEMPUT_PIN). Without
    /// a PIN the store's key file outside the home opens it.
    #[arg(long, global = true)]
    pin_stdin: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Login {
        /// `https://…`; plain `http://` only to this machine.
        #[arg(long)]
        server: String,
        /// Trust the server's certificate by this pin (`sha256/…`, as the server prints
        /// it) instead of the public roots: for a self-signed office certificate.
        #[arg(long)]
        pin: Option<String>,
        #[arg(long)]
        user: String,
        /// Unsafe: visible to other processes. For scripts and tests only; without it
        /// or --password-stdin the password is asked without echo.
        #[arg(long, conflicts_with = "password_stdin")]
        password: Option<String>,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// End this device's session on the server; the households and unsent work stay.
    Logout,
    /// Push pending work and pull the areas' changes.
    Sync {
        /// Keep retrying a failed sync (exponential backoff with jitter) for this many
        /// seconds: resumes by itself when the link returns.
        #[arg(long, default_value_t = 0)]
        retry_for: u64,
    },
    /// List the households on this device.
    Households {
        #[arg(long)]
        search: Option<String>,
        /// all, not_visited, poor or conflict
        #[arg(long, default_value = "all")]
        filter: String,
        #[arg(long)]
        json: bool,
    },
    /// Record a visit offline from an answers file.
    Visit {
        id: String,
        #[arg(long)]
        answers: PathBuf,
        /// Record the same visit N times (load simulation, crash tests).
        #[arg(long, default_value_t = 1)]
        repeat: u32,
    },
    /// Show one household: members, visits with scores, conflicts.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Propose a new household found on the way.
    Propose {
        #[arg(long)]
        head_name: String,
        #[arg(long)]
        nik: Option<String>,
        #[arg(long)]
        kk: Option<String>,
        /// Head's birth date, YYYY-MM-DD.
        #[arg(long)]
        birth_date: Option<String>,
        #[arg(long)]
        address: String,
        #[arg(long)]
        rw: u16,
        #[arg(long)]
        rt: u16,
        #[arg(long, default_value = "")]
        kelurahan: String,
    },
    /// Print a complete example answers file for `visit`.
    AnswersTemplate,
    /// Office and fasilitator: the round's figures per RW, RT and kader, from this
    /// device's replica (works offline).
    Dashboard {
        /// `2026-11`, `2026-Q4` or `2026-11-01..2026-11-15`; default: the current round.
        #[arg(long)]
        period: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Open conflicts: field conflicts, divergent visits, possible duplicates.
    Conflicts {
        #[arg(long)]
        rw: Option<u16>,
        /// field, divergent_visits or possible_duplicate
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Decide a conflict (fasilitator or operator).
    Resolve {
        conflict: String,
        /// Choice number, from 1.
        #[arg(long, conflicts_with = "value", required_unless_present = "value")]
        pick: Option<u32>,
        /// A corrected value instead of one of the choices (field conflicts).
        #[arg(long)]
        value: Option<String>,
        /// A note to the kader; travels with the decision.
        #[arg(long)]
        note: Option<String>,
    },
    /// Correct one field of a household (office): e.g. `identity.address "Jl. X 1"`.
    Edit {
        household: String,
        path: String,
        value: String,
    },
    /// Every change of a household, or (--as-of) the household as it stood then.
    History {
        household: String,
        /// YYYY-MM-DD (the end of that day in the kelurahan's time zone) or an RFC 3339 time.
        #[arg(long)]
        as_of: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Device, user, role, actors, last sync, bytes, pending, rejected and
    /// quarantined work, as JSON (never the token).
    Status {
        /// Accepted for symmetry with the other commands: the output is always JSON.
        #[arg(long)]
        json: bool,
    },
    /// What waits to reach the server: households with unsent work (and refused
    /// work, with the reason), quarantined households, drafts, bundles to relay.
    Outbox {
        #[arg(long)]
        json: bool,
    },
    /// Decisions and notes of the fasilitator and office on this device's
    /// households, newest first; `--seen` marks them read.
    Inbox {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        seen: bool,
    },
    /// Check the local store: every document loads and matches its query columns.
    Check,
    /// Sync by file: `bundle export FILE` or `bundle import FILE`.
    Bundle {
        #[command(subcommand)]
        command: BundleCommand,
    },
    /// Office: the proposals this device's households stand for (add, remove), with
    /// their status from the Muskel sessions.
    Proposals {
        #[arg(long)]
        json: bool,
    },
    /// A complaint (usul, sanggah) or a referral (rujukan): received, assigned, closed.
    Complaint {
        #[command(subcommand)]
        command: ComplaintCommand,
    },
    /// The complaints and referrals of your areas (from the server, or as kept).
    Complaints {
        /// open, closed or overdue
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Office: the village meeting (Muskel) that decides proposals.
    Muskel {
        #[command(subcommand)]
        command: MuskelCommand,
    },
    /// Operator: import the registry file (CSV or XLSX) into this device; it reaches
    /// the server at the next sync. Rejected rows go to `<file>.rejected.csv`.
    Import {
        file: PathBuf,
        /// The file covers only part of the kelurahan.
        #[arg(long)]
        partial: bool,
        /// `HEADER=FIELD` for a column Jemput does not recognise (saved on the device).
        #[arg(long)]
        map: Vec<String>,
        /// The exact number of households this whole-registry import marks missing,
        /// needed when that is more than 5 % of the stored households or more than 20
        /// (without it the import stops with exit code 3 and prints the number).
        #[arg(long, value_name = "N")]
        confirm_missing: Option<u32>,
        /// Read, check and build everything, print what the import would do, write
        /// nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Office: write the periodic update at a cut-off (by arrival at the server).
    Export {
        /// `YYYY-MM-DD` (the end of that day in the kelurahan's time zone) or an RFC 3339 time.
        #[arg(long)]
        cutoff: String,
        #[arg(long)]
        since: Option<String>,
        /// `FILE.xlsx` or `FILE.csv`.
        #[arg(long)]
        out: PathBuf,
        /// Sync before exporting, so the export holds this device's work.
        #[arg(long)]
        sync_first: bool,
    },
    /// Heads of every household's document (hex), to compare replicas.
    Heads {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ComplaintCommand {
    /// Receive one (offline too: it is sent at the next sync); prints its id.
    Add {
        /// usul, sanggah, rujukan or lain
        #[arg(long)]
        category: String,
        #[arg(long, required_unless_present = "rw")]
        household: Option<String>,
        /// The RW, when no household is linked (a resident not registered).
        #[arg(long)]
        rw: Option<u16>,
        /// Who complains; anonymous without it.
        #[arg(long = "from")]
        complainant: Option<String>,
        #[arg(long)]
        text: String,
        /// A referral's service: puskesmas, sekolah, dinsos, …
        #[arg(long)]
        service: Option<String>,
    },
    /// Office: a kader of the case's RW verifies it.
    Assign {
        id: String,
        #[arg(long)]
        kader: String,
    },
    /// The verification visit (the assigned kader, or the office).
    Visit {
        id: String,
        #[arg(long)]
        visit: String,
    },
    /// Office: close it with an outcome and a note.
    Close {
        id: String,
        #[arg(long)]
        outcome: String,
        #[arg(long)]
        note: String,
    },
}

#[derive(Subcommand)]
enum MuskelCommand {
    /// The kelurahan's sessions (from the server; kept for offline reading).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Open a session; prints its id.
    New {
        /// YYYY-MM-DD.
        #[arg(long)]
        date: String,
        #[arg(long)]
        place: String,
        /// The minutes' number; made from the date when absent.
        #[arg(long)]
        number: Option<String>,
        #[arg(long)]
        attendees: u32,
        /// `Name:Position`, once per official who signs the minutes.
        #[arg(long = "official", required = true)]
        officials: Vec<String>,
    },
    /// Decide a household's proposal in the session.
    Decide {
        session: String,
        #[arg(long)]
        household: String,
        /// add, remove or correct
        #[arg(long)]
        kind: String,
        /// approved, rejected or deferred
        #[arg(long)]
        outcome: String,
        #[arg(long)]
        reason: String,
    },
    /// Close the session: every proposal on its agenda decided.
    Close { session: String },
    /// Write the minutes (berita acara) as a PDF.
    Minutes {
        session: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the approved proposals as the SIKS-NG input list (XLSX).
    Siks {
        session: String,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum BundleCommand {
    /// Write everything the server has not acknowledged to a signed file.
    Export { file: PathBuf },
    /// Check a bundle's signatures and apply it (all or nothing).
    Import { file: PathBuf },
}

fn main() {
    if let Err(e) = run() {
        let stop = e
            .chain()
            .find_map(|c| match c.downcast_ref::<DeviceError>() {
                Some(DeviceError::ImportStopped(stop)) => Some(stop),
                _ => c.downcast_ref::<jemput_core::registry::Stop>(),
            });
        // A registry import's whole-file checks: said in JEMPUT_LANG (default
        // Indonesian), with their own exit code (2: the file was refused, 3: the number
        // marked missing needs confirming).
        if let Some(stop) = stop {
            eprintln!("error: {}", stop.text(jemput_core::words::Lang::from_env()));
            std::process::exit(stop.exit_code());
        }
        // One line, whatever the chain of causes.
        let msg = format!("{e:#}").replace('\n', " ");
        eprintln!("error: {msg}");
        std::process::exit(1);
    }
}

fn home(cli: &Cli) -> anyhow::Result<Device> {
    let dir = cli
        .home
        .clone()
        .context("--home DIR (or JEMPUT_HOME) is required")?;
    let unlock = if cli.pin_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        jemput_client::keys::Unlock::Pin(line.trim().to_string())
    } else {
        jemput_client::keys::Unlock::from_env()
    };
    Ok(Device::open_with(
        &dir,
        Box::new(jemput_core::SystemClock),
        &unlock,
    )?)
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let set = match &cli.indicators {
        Some(p) => IndicatorSet::from_toml(
            &std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        )?,
        None => IndicatorSet::bps14(),
    };
    let rt = || -> anyhow::Result<tokio::runtime::Runtime> {
        Ok(tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?)
    };
    match &cli.command {
        Command::AnswersTemplate => {
            println!("{}", serde_json::to_string_pretty(&set.answers_template())?);
        }
        Command::Login {
            server,
            pin,
            user,
            password,
            password_stdin,
        } => {
            let device = home(&cli)?;
            let password = &match password {
                Some(p) => p.clone(),
                None if *password_stdin => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
                None => rpassword::prompt_password("password: ")?,
            };
            let ok = rt()?.block_on(device.login(
                &SyncClient::new(),
                server,
                pin.as_deref(),
                user,
                password,
                "jemput-cli",
            ))?;
            println!("logged in as {} ({})", ok.user, ok.role.as_str());
            let key_dir = jemput_client::keys::default_key_dir();
            if let Some(file) = cli
                .home
                .as_deref()
                .and_then(|h| jemput_client::keys::key_file_of(h, &key_dir))
            {
                println!(
                    "the store is encrypted; its key file is {} (outside the home); set JEMPUT_PIN to use a PIN",
                    file.display()
                );
            }
        }
        Command::Logout => {
            let device = home(&cli)?;
            rt()?.block_on(SyncClient::new().logout(&device))?;
            println!("logged out");
        }
        Command::Sync { retry_for } => {
            let device = home(&cli)?;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(*retry_for);
            let client = SyncClient::new();
            let report = rt()?.block_on(client.sync_until(&device, &set, deadline))?;
            println!("{report}");
            // Complaints received offline go once the server answered.
            if !device.cases_unsent()?.is_empty() {
                let (sent, refusals) = rt()?.block_on(device.cases_flush(&client))?;
                if sent > 0 {
                    println!("complaints sent: {sent}");
                }
                for r in refusals {
                    eprintln!("warning: {r}");
                }
            }
        }
        Command::Households {
            search,
            filter,
            json,
        } => {
            let device = home(&cli)?;
            let filter: ListFilter =
                serde_json::from_value(serde_json::json!(filter)).map_err(|_| {
                    anyhow::anyhow!("filter must be all, not_visited, poor or conflict")
                })?;
            let rows = device.households(search.as_deref(), filter)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for r in rows {
                    println!(
                        "{}  RW {:02} RT {:02}  {:<28} {:<10} {}",
                        r.id,
                        r.rw,
                        r.rt,
                        r.head_name.unwrap_or_default(),
                        r.status.unwrap_or_else(|| "-".into()),
                        r.score.map_or("-".into(), |s| format!("{s}/14"))
                    );
                }
            }
        }
        Command::Visit {
            id,
            answers,
            repeat,
        } => {
            let device = home(&cli)?;
            let text = std::fs::read_to_string(answers)
                .with_context(|| format!("cannot read {}", answers.display()))?;
            let input: VisitInput = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid answers file", answers.display()))?;
            let scored =
                jemput_core::household::VisitResult::parse(&input.result)?.carries_answers();
            if !scored && !input.answers.is_empty() {
                eprintln!(
                    "warning: a visit with result {} has no criteria: its {} answers are ignored",
                    input.result,
                    input.answers.len()
                );
            }
            let mut vid = device.record_visit(id, &input, &set)?;
            for _ in 1..*repeat {
                vid = device.record_visit(id, &input, &set)?;
            }
            let view = device.show(id, &set)?;
            let v = &view["visits"][&vid];
            if scored {
                let unknown = v["unknown"].as_array().map_or(0, Vec::len);
                println!(
                    "visit {vid} recorded offline: result {}, score {}/{}{}",
                    input.result,
                    v["score"],
                    set.criteria.len(),
                    if unknown > 0 {
                        format!(", incomplete: {unknown} criteria \"tidak tahu\"")
                    } else {
                        String::new()
                    }
                );
            } else {
                println!(
                    "visit {vid} recorded offline: result {}, no score",
                    input.result
                );
            }
        }
        Command::Show { id, json } => {
            let device = home(&cli)?;
            let view = device.show(id, &set)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&view)?);
            } else {
                print_household(&view);
            }
        }
        Command::Propose {
            head_name,
            nik,
            kk,
            birth_date,
            address,
            rw,
            rt,
            kelurahan,
        } => {
            let device = home(&cli)?;
            let id = device.propose(
                &Proposal {
                    head_name: head_name.clone(),
                    head_birth_date: birth_date.clone(),
                    nik: nik.clone(),
                    kk: kk.clone(),
                    address: address.clone(),
                    kelurahan: kelurahan.clone(),
                    rw: *rw,
                    rt: *rt,
                },
                &set,
            )?;
            println!("{id}");
        }
        Command::Dashboard { period, json } => {
            let device = home(&cli)?;
            let d = device.dashboard(period.as_deref())?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                print_dashboard(&d);
            }
        }
        Command::Conflicts { rw, kind, json } => {
            let device = home(&cli)?;
            let kind = match kind {
                Some(k) => Some(ConflictKind::parse(k).ok_or_else(|| {
                    anyhow::anyhow!("kind must be field, divergent_visits or possible_duplicate")
                })?),
                None => None,
            };
            let list = device.conflicts(*rw, kind, &set, jemput_core::words::Lang::from_env())?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for c in list {
                    println!(
                        "{}  {}  {}  RW {:02} RT {:02}  {}  {} choices",
                        c.id,
                        c.kind.code(),
                        c.household,
                        c.rw,
                        c.rt,
                        c.path.unwrap_or_default(),
                        c.choices.len()
                    );
                }
            }
        }
        Command::Resolve {
            conflict,
            pick,
            value,
            note,
        } => {
            let device = home(&cli)?;
            let decision = match (pick, value) {
                (Some(n), None) => Decision::Pick(*n),
                (None, Some(v)) => Decision::Value(v.clone()),
                _ => bail!("give either --pick N or --value V"),
            };
            device.resolve(conflict, &decision, note.as_deref(), &set)?;
            println!("conflict {conflict} resolved offline; sync to send the decision");
        }
        Command::Edit {
            household,
            path,
            value,
        } => {
            let device = home(&cli)?;
            device.edit(household, path, value, &set)?;
            println!("{household}: {path} corrected offline");
        }
        Command::History {
            household,
            as_of,
            json,
        } => {
            let device = home(&cli)?;
            match as_of {
                Some(when) => {
                    let view = device.as_of_when(household, when, &set)?;
                    println!("{}", serde_json::to_string_pretty(&view)?);
                }
                None => {
                    let lang = jemput_core::words::Lang::from_env();
                    let entries = device.history(household, &set, lang)?;
                    if *json {
                        println!("{}", serde_json::to_string_pretty(&entries)?);
                    } else {
                        for e in entries {
                            println!(
                                "{}  {}",
                                jemput_core::words::format_time(e.at, lang),
                                e.text
                            );
                        }
                    }
                }
            }
        }
        Command::Heads { json: _ } => {
            let device = home(&cli)?;
            println!("{}", serde_json::to_string_pretty(&device.heads()?)?);
        }
        Command::Proposals { json } => {
            let device = home(&cli)?;
            // The sessions' latest decisions when the server answers; else as kept.
            if let Err(e) = rt()?.block_on(device.muskel_refresh(&SyncClient::new())) {
                eprintln!("warning: statuses as of the last contact with the server ({e})");
            }
            let list = device.proposals()?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for p in list {
                    println!(
                        "{}  {}  {}  RW {:03} RT {:03}  {}  {:?}",
                        p.id,
                        p.household,
                        p.kind.code(),
                        p.rw,
                        p.rt,
                        p.reason,
                        p.status
                    );
                }
            }
        }
        Command::Muskel { command } => muskel_command(&home(&cli)?, command)?,
        Command::Complaint { command } => complaint_command(&home(&cli)?, command)?,
        Command::Complaints { status, json } => {
            let device = home(&cli)?;
            let cases = match rt()?.block_on(device.cases_refresh(&SyncClient::new())) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("warning: cases as of the last contact with the server ({e})");
                    device.cases_known()?
                }
            };
            let today = device.today();
            let keep = |c: &jemput_core::cases::Case| match status.as_deref() {
                None => Ok(true),
                Some("open") => Ok(c.status != jemput_core::cases::CaseStatus::Closed),
                Some("closed") => Ok(c.status == jemput_core::cases::CaseStatus::Closed),
                Some("overdue") => Ok(c.overdue(&today)),
                Some(s) => Err(anyhow::anyhow!(
                    "--status `{s}`: use open, closed or overdue"
                )),
            };
            let mut list = Vec::new();
            for c in cases {
                if keep(&c)? {
                    list.push(c);
                }
            }
            if *json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for c in list {
                    println!(
                        "{}  RW {:03}  {:?}  {:?}  due {}{}",
                        c.id,
                        c.rw,
                        c.category,
                        c.status,
                        c.due,
                        c.days_left(&today)
                            .map_or(String::new(), |d| format!(" ({d} days left)"))
                    );
                }
            }
        }
        Command::Bundle { command } => {
            let device = home(&cli)?;
            match command {
                BundleCommand::Export { file } => {
                    let n = device.bundle_export(file)?;
                    println!(
                        "bundle written: {} ({n} households with unsent changes)",
                        file.display()
                    );
                }
                BundleCommand::Import { file } => {
                    let r = device.bundle_import(file, &set)?;
                    println!(
                        "bundle applied: {} households ({} new), {} left out (outside your areas or missing earlier history)",
                        r.households, r.new_households, r.skipped
                    );
                }
            }
        }
        Command::Import {
            file,
            partial,
            map,
            confirm_missing,
            dry_run,
        } => {
            let device = home(&cli)?;
            if !map.is_empty() {
                device.save_registry_mapping(map)?;
            }
            if *dry_run {
                let p = device.registry_preview(file, *partial, &set)?;
                println!(
                    "import (dry run, nothing written): {} households, {} members from {} rows: {} created, {} updated, {} unchanged, {} marked missing; {} rows rejected; {}",
                    p.households, p.members, p.rows, p.counts.created, p.counts.updated,
                    p.counts.unchanged, p.counts.missing, p.rejected, p.coverage.describe()
                );
                if let Some(stop) = p.stop {
                    return Err(stop.into());
                }
                return Ok(());
            }
            let mut last = 0;
            let r = device.import_registry(
                file,
                *partial,
                *confirm_missing,
                &set,
                &mut |done, total| {
                    if done * 10 / total.max(1) > last {
                        last = done * 10 / total.max(1);
                        eprintln!("import: {}% ({done}/{total})", last * 10);
                    }
                    true
                },
            )?;
            println!(
                "import: {} households, {} members from {} rows: {} created, {} updated, {} unchanged, {} marked missing; {} rows rejected; {}",
                r.households, r.members, r.rows, r.counts.created, r.counts.updated,
                r.counts.unchanged, r.counts.missing, r.rejected, r.coverage.describe()
            );
            if let Some(p) = r.rejected_file {
                println!("rejected rows: {p}");
            }
            if let Some(p) = r.rejected_xlsx {
                println!("rejected rows (Excel): {p}");
            }
        }
        Command::Export {
            cutoff,
            since,
            out,
            sync_first,
        } => {
            let device = home(&cli)?;
            if *sync_first {
                let report = rt()?.block_on(SyncClient::new().sync(&device, &set))?;
                println!("{report}");
            }
            let done = rt()?.block_on(device.export_update(
                &SyncClient::new(),
                cutoff,
                since.as_deref(),
                out,
            ))?;
            println!(
                "export: {} households of {}: {}",
                done.households,
                done.kelurahan,
                done.files.join(", ")
            );
            if done.unsent > 0 {
                eprintln!(
                    "warning: {} households on this device have work the server does not hold yet; the export does not include it (run `jemput sync` first, or `jemput export --sync-first`)",
                    done.unsent
                );
            }
        }
        Command::Check => {
            let device = home(&cli)?;
            let n = device
                .with_store(|s| Ok(s.verify(&set)))?
                .map_err(|e| anyhow::anyhow!("local store is inconsistent: {e}"))?;
            println!("local store consistent: {n} households");
        }
        Command::Status { json: _ } => {
            let device = home(&cli)?;
            let Some(cfg) = device.config()? else {
                if let Some(r) = device.revoked()? {
                    // The office revoked this device: its data is gone; say so and how
                    // much unsent work went with it.
                    let mut v = serde_json::to_value(&r)?;
                    if let Some(o) = v.as_object_mut() {
                        o.insert("state".into(), "revoked".into());
                    }
                    println!("{}", serde_json::to_string_pretty(&v)?);
                    return Ok(());
                }
                bail!("not logged in");
            };
            // Everything a support call needs, never the token.
            let mut status = serde_json::to_value(device.sync_stats()?)?;
            if let Some(o) = status.as_object_mut() {
                o.insert("state".into(), "active".into());
                o.insert("device".into(), cfg.device.clone().into());
                o.insert("user".into(), cfg.user.clone().into());
                o.insert("role".into(), cfg.role.as_str().into());
                o.insert(
                    "actors".into(),
                    serde_json::json!([device.author(&cfg)?.actor.to_hex_string()]),
                );
            }
            println!("{}", serde_json::to_string_pretty(&status)?);
        }
        Command::Outbox { json } => {
            let device = home(&cli)?;
            let outbox = device.outbox()?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&outbox)?);
            } else {
                println!(
                    "{} households waiting ({} visits), {} refused, {} quarantined, {} drafts",
                    outbox.waiting,
                    outbox.unsent_visits,
                    outbox.refused,
                    outbox.quarantined.len(),
                    outbox.drafts.len()
                );
                for h in &outbox.households {
                    match &h.rejected {
                        Some(why) => println!("  {}  refused: {why}", h.id),
                        None => println!("  {}  {} unsent visits", h.id, h.visits),
                    }
                }
                for q in &outbox.quarantined {
                    println!("  {}  quarantined: {}", q.id, q.reason);
                }
            }
        }
        Command::Inbox { json, seen } => {
            let device = home(&cli)?;
            let items = device.inbox(500)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&items)?);
            } else {
                for i in &items {
                    println!(
                        "{}{}  {}  {} by {}: {}",
                        if i.unread { "* " } else { "  " },
                        jemput_core::history::format_when(i.at),
                        i.household,
                        i.kind,
                        i.by,
                        i.item
                    );
                }
            }
            if *seen {
                device.mark_inbox_seen()?;
            }
        }
    }
    Ok(())
}

/// A short human-readable view; `--json` has everything.
fn print_household(v: &serde_json::Value) {
    let ident = &v["identity"];
    println!(
        "{}  RW {} RT {}  {}  status: {}",
        v["id"].as_str().unwrap_or(""),
        ident["rw"],
        ident["rt"],
        ident["address"].as_str().unwrap_or(""),
        v["status"].as_str().unwrap_or("-")
    );
    if let Some(members) = v["members"].as_object() {
        for m in members.values() {
            println!(
                "  member: {} ({}, {})",
                m["name"].as_str().unwrap_or(""),
                m["relation"].as_str().unwrap_or(""),
                m["presence"].as_str().unwrap_or("")
            );
        }
    }
    if let Some(visits) = v["visits"].as_object() {
        for visit in visits.values() {
            println!(
                "  visit {} by {}: {}, score {}",
                visit["date"].as_str().unwrap_or(""),
                visit["kader"].as_str().unwrap_or(""),
                visit["result"].as_str().unwrap_or(""),
                visit["score"]
            );
        }
    }
    if let Some(conflicts) = v["conflicts"].as_array() {
        for c in conflicts {
            println!(
                "  conflict on {}: {}",
                c["path"].as_str().unwrap_or(""),
                c["values"]
            );
        }
    }
}

/// The dashboard as a table: one line per RW, then the kelurahan, then the kaders.
fn print_dashboard(d: &jemput_core::dashboard::Dashboard) {
    println!(
        "period {} .. {} ({})",
        d.period.start,
        d.period.end,
        d.period.zone.name()
    );
    println!(
        "{:<6} {:>6} {:>7} {:>5} {:>5} {:>9} {:>5} {:>5} {:>7} {:>4} {:>10} {:>9} {:>9}",
        "RW",
        "hh",
        "visited",
        "%",
        "found",
        "not_found",
        "moved",
        "died",
        "refused",
        "poor",
        "incomplete",
        "conflicts",
        "proposals"
    );
    for f in d.rws.iter().chain([&d.total]) {
        println!(
            "{:<6} {:>6} {:>7} {:>5} {:>5} {:>9} {:>5} {:>5} {:>7} {:>4} {:>10} {:>9} {:>9}",
            f.rw.map_or_else(|| "all".to_string(), |rw| format!("{rw:03}")),
            f.households,
            f.visited,
            f.percent_visited(),
            f.found,
            f.not_found,
            f.moved,
            f.died,
            f.refused,
            f.poor,
            f.incomplete,
            f.open_conflicts,
            f.pending_proposals
        );
    }
    for k in &d.kaders {
        println!(
            "kader {}: {} visits, {} households, last visit {}",
            k.user,
            k.visits,
            k.households,
            k.last_visit.as_deref().unwrap_or("-")
        );
    }
}

fn muskel_command(device: &jemput_client::Device, command: &MuskelCommand) -> anyhow::Result<()> {
    use jemput_core::muskel::{NewSession, Official, Outcome, ProposalKind};
    let client = SyncClient::new();
    let rt = || -> anyhow::Result<tokio::runtime::Runtime> {
        Ok(tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?)
    };
    match command {
        MuskelCommand::List { json } => {
            let sessions = rt()?.block_on(device.muskel_refresh(&client))?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&sessions)?);
            } else {
                for s in sessions {
                    println!(
                        "{}  {}  {}  {}  {} proposals{}",
                        s.id,
                        s.number,
                        s.date,
                        s.place,
                        s.items.len(),
                        if s.closed { ", closed" } else { "" }
                    );
                }
            }
        }
        MuskelCommand::New {
            date,
            place,
            number,
            attendees,
            officials,
        } => {
            let officials = officials
                .iter()
                .map(|o| match o.split_once(':') {
                    Some((name, position)) => Ok(Official {
                        name: name.trim().into(),
                        position: position.trim().into(),
                    }),
                    None => Err(anyhow::anyhow!("--official `{o}`: write Name:Position")),
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let new = NewSession {
                date: date.clone(),
                place: place.clone(),
                number: number.clone(),
                attendees: *attendees,
                officials,
            };
            let s = rt()?.block_on(device.muskel_new(&client, &new))?;
            println!("{}", s.id);
            eprintln!("Muskel {} opened: {} at {}", s.number, s.date, s.place);
        }
        MuskelCommand::Decide {
            session,
            household,
            kind,
            outcome,
            reason,
        } => {
            let kind = ProposalKind::parse(kind)
                .ok_or_else(|| anyhow::anyhow!("--kind must be add, remove or correct"))?;
            let outcome = Outcome::parse(outcome).ok_or_else(|| {
                anyhow::anyhow!("--outcome must be approved, rejected or deferred")
            })?;
            let s = rt()?.block_on(
                device.muskel_decide(&client, session, household, kind, outcome, reason),
            )?;
            println!(
                "decided: {} of {} proposals on the agenda of {}",
                s.items.iter().filter(|i| i.decision.is_some()).count(),
                s.items.len(),
                s.number
            );
        }
        MuskelCommand::Close { session } => {
            let s = rt()?.block_on(device.muskel_close(&client, session))?;
            println!(
                "closed {}: {} approved, {} rejected, {} deferred",
                s.number,
                s.count(Outcome::Approved),
                s.count(Outcome::Rejected),
                s.count(Outcome::Deferred)
            );
        }
        MuskelCommand::Minutes { session, out } => {
            if let Err(e) = rt()?.block_on(device.muskel_refresh(&client)) {
                eprintln!("warning: the session as of the last contact with the server ({e})");
            }
            let s = device.muskel_minutes(session, out)?;
            println!(
                "minutes of {} ({} decisions): {}",
                s.number,
                s.items.len(),
                out.display()
            );
        }
        MuskelCommand::Siks { session, out } => {
            if let Err(e) = rt()?.block_on(device.muskel_refresh(&client)) {
                eprintln!("warning: the session as of the last contact with the server ({e})");
            }
            let n = device.muskel_siks(session, out)?;
            println!("SIKS-NG list: {n} approved proposals: {}", out.display());
        }
    }
    Ok(())
}

fn complaint_command(
    device: &jemput_client::Device,
    command: &ComplaintCommand,
) -> anyhow::Result<()> {
    use jemput_core::cases::{Category, NewCase};
    let client = SyncClient::new();
    let rt = || -> anyhow::Result<tokio::runtime::Runtime> {
        Ok(tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?)
    };
    let done = |c: jemput_core::cases::Case| {
        println!("{}: {:?}, due {}", c.id, c.status, c.due);
    };
    match command {
        ComplaintCommand::Add {
            category,
            household,
            rw,
            complainant,
            text,
            service,
        } => {
            let category = Category::parse(category).ok_or_else(|| {
                anyhow::anyhow!("--category must be usul, sanggah, rujukan or lain")
            })?;
            let new = NewCase {
                id: String::new(),
                category,
                household: household.clone(),
                rw: *rw,
                complainant: complainant.clone(),
                text: text.clone(),
                service: service.clone(),
                received_ms: 0,
            };
            match rt()?.block_on(device.case_add(&client, new))? {
                jemput_client::cases::Received::Sent(c) => {
                    println!("{}", c.id);
                    eprintln!("received: due {}", c.due);
                }
                jemput_client::cases::Received::Queued(n) => {
                    println!("{}", n.id);
                    eprintln!("offline: kept on this device, sent at the next sync");
                }
            }
        }
        ComplaintCommand::Assign { id, kader } => done(rt()?.block_on(device.case_update(
            &client,
            id,
            serde_json::json!({"action": "assign", "kader": kader}),
        ))?),
        ComplaintCommand::Visit { id, visit } => done(rt()?.block_on(device.case_update(
            &client,
            id,
            serde_json::json!({"action": "visit", "visit": visit}),
        ))?),
        ComplaintCommand::Close { id, outcome, note } => {
            done(rt()?.block_on(device.case_update(
                &client,
                id,
                serde_json::json!({"action": "close", "outcome": outcome, "note": note}),
            ))?)
        }
    }
    Ok(())
}
