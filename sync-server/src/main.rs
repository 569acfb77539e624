//! `jemput-sync-server`: serve the sync API, or administer users, areas and demo data.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use jemput_core::household::Author;
use jemput_core::registry::{export, ImportOptions, Mapping};
use jemput_core::sync::Area;
use jemput_core::zone::Zone;
use jemput_sync_server::service::registry::ImportRun;
use jemput_sync_server::service::{Role, StorageError};
use jemput_sync_server::{demo, PostgresStorage, SqliteStorage, Storage};

#[derive(Parser)]
#[command(
    name = "jemput-sync-server",
    about = "Jemput sync server and admin tool"
)]
struct Cli {
    /// Directory holding the server's embedded database (SQLite).
    #[arg(
        long,
        env = "JEMPUT_DATA",
        required_unless_present = "database",
        conflicts_with = "database"
    )]
    data: Option<PathBuf>,
    /// A PostgreSQL database instead of --data (`postgres://USER@HOST:PORT/DB`): every
    /// server process given the same URL shares it; the server creates its tables on
    /// first use and keeps everything there, its keys included.
    #[arg(long, env = "JEMPUT_DATABASE")]
    database: Option<String>,
    /// PEM certificates that sign the database's TLS certificate (an office's own CA),
    /// instead of the public roots; TLS is `sslmode=require` in the URL, and required
    /// for a database on another machine.
    #[arg(long, env = "JEMPUT_DATABASE_CA", requires = "database")]
    database_ca: Option<PathBuf>,
    /// Keep the server's own keys (device certificates, bundle decryption) in this file
    /// (0600) instead of the database; the first use moves them out of the database.
    #[arg(long, env = "JEMPUT_KEY_FILE", global = true)]
    key_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the sync API; prints the bound address.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// PEM certificate chain: serve TLS (with --tls-key). Without, plain HTTP, for
        /// this machine or a reverse proxy on it.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key of --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Connections open at once; when all are, the one waiting longest for a
        /// request is closed to make room.
        #[arg(long, default_value_t = 1024)]
        max_connections: usize,
        /// Seconds a connection has for its TLS handshake and each request's headers.
        #[arg(long, default_value_t = 30)]
        header_timeout: u64,
        /// Syncs and exports answered at once; beyond, a device is told `503` with
        /// `Retry-After` and comes back.
        #[arg(long, default_value_t = jemput_sync_server::MAX_IN_FLIGHT)]
        max_in_flight: usize,
    },
    /// Make a self-signed TLS certificate (kept if there is one) and print its pin, which
    /// devices trust it by (`jemput login --pin`).
    TlsCert {
        /// Names and addresses the certificate is for.
        #[arg(long = "name", default_values = ["localhost", "127.0.0.1", "::1"])]
        names: Vec<String>,
        /// Where to write cert.pem and key.pem (default: DATA/tls).
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
    /// Create a synthetic Kelurahan Purwantoro with demo users.
    Demo {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// For load tests: this many households instead of about 350 …
        #[arg(long)]
        households: Option<usize>,
        /// … spread over RW 1 to this one.
        #[arg(long, default_value_t = 24)]
        rws: u16,
    },
    /// Write a synthetic registry file (CSV) of Kelurahan Purwantoro, to try `import`.
    DemoRegistry {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 350)]
        households: usize,
        /// Spread over RW 1 to this one.
        #[arg(long, default_value_t = 24)]
        rws: u16,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Give a user areas (additive). No --rw: the whole kelurahan.
    Assign(AreaArgs),
    /// Take areas away from a user.
    Unassign(AreaArgs),
    /// The audit log: `verify` its chains, or `show` its entries.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// List devices (of one user) with their last contact.
    Devices {
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// A kelurahan's settings, kept in one record per kelurahan and taken by its
    /// devices at their next login or token renewal.
    Kelurahan {
        #[command(subcommand)]
        command: KelurahanCommand,
    },
    /// Revoke a device's token (a lost phone).
    Revoke { device: String },
    /// Print every household's document heads as JSON (to compare replicas).
    Heads,
    /// Write the server's current document of a household (Automerge bytes).
    Doc {
        household: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// List households with their area (`--json`: one JSON array).
    Households {
        #[arg(long)]
        kelurahan: Option<String>,
        #[arg(long)]
        rw: Option<u16>,
        #[arg(long)]
        json: bool,
    },
    /// What devices reported they could not merge (quarantined households), as JSON.
    Quarantine,
    /// Copy the SQLite store to FILE while the server runs (SQLite's online backup:
    /// one consistent snapshot; syncs go on meanwhile). With --database, use pg_dump.
    Backup {
        #[arg(long)]
        out: PathBuf,
    },
    /// Replace the store with a backup made by `backup` (stop the server first). The
    /// store gets a new identity: devices start again at their next sync and send what
    /// the backup lacks. With --database, use pg_restore and then `restored`.
    Restore { file: PathBuf },
    /// After restoring the database by other means (pg_restore): give the store a new
    /// identity, so devices start again and send what it lacks.
    Restored,
    /// The store's identity (16 hex digits), new after each restore.
    ServerId,
    /// Apply a device's bundle file (sync by file), with the same checks as a sync.
    BundleImport { file: PathBuf },
    /// Import the registry file from Dinas Sosial (CSV or XLSX) into a kelurahan.
    /// Rejected rows are written beside the file as `<file>.rejected.csv`.
    Import {
        file: PathBuf,
        #[arg(long)]
        kelurahan: String,
        /// The file covers only part of the kelurahan: households it does not list are
        /// left alone (a whole-registry file marks them missing).
        #[arg(long)]
        partial: bool,
        /// The kelurahan's BPS code, when rows carry it as their region code and the
        /// server does not know it yet (`kelurahan set CODE --bps`); a successful import
        /// records it.
        #[arg(long, value_parser = bps_code)]
        bps: Option<String>,
        /// `HEADER=FIELD` for a column Jemput does not recognise (repeatable; saved for
        /// later imports). FIELD is one of id_dtks, idbdt, id_art, nik, kk, name,
        /// relation, sex, birth_date, address, rt, rw, region_code, desil, pkh, bpnt,
        /// pbi, kip, or `ignore`.
        #[arg(long)]
        map: Vec<String>,
        /// Recorded as the author of the import's changes.
        #[arg(long, default_value = "admin")]
        user: String,
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
    /// Export the periodic update: every household of the kelurahan as it stood at the
    /// cut-off (by when changes arrived here), with a summary per RW.
    Export {
        #[arg(long)]
        kelurahan: String,
        /// `YYYY-MM-DD` (the end of that day in the kelurahan's time zone) or an RFC 3339 time.
        #[arg(long)]
        cutoff: String,
        /// First day of the period for "visited this period" (default: the first day
        /// of the cut-off's month).
        #[arg(long)]
        since: Option<String>,
        /// `FILE.xlsx` (two sheets) or `FILE.csv` (plus `FILE.summary.csv`).
        #[arg(long)]
        out: PathBuf,
    },
    /// Move a household to another RW/RT of its kelurahan.
    Move {
        household: String,
        #[arg(long)]
        rw: u16,
        #[arg(long)]
        rt: u16,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user, or update an existing one's role and password (ending its tokens).
    Add {
        name: String,
        #[arg(long)]
        role: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Set a new password (read from the terminal or stdin): every token of the user
    /// ends, its devices log in again.
    Passwd {
        name: String,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Stop a user: no login, and every device of it erases its data at next contact.
    Disable { name: String },
    /// Let a disabled user log in again.
    Enable { name: String },
}

#[derive(Subcommand)]
enum KelurahanCommand {
    /// Set a kelurahan's settings (the time zone is printed either way).
    Set {
        /// Its Kemendagri code, `35.73.01.1007`.
        name: String,
        /// Minutes (1–30) in the background before the app asks for the PIN again;
        /// devices take it at their next login or token renewal.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=30))]
        lock_minutes: Option<u8>,
        /// The kelurahan's time zone: WIB (default), WITA or WIT. Cut-offs, visit
        /// dates and months are days in it; devices take it at their next login or
        /// token renewal.
        #[arg(long, value_parser = jemput_core::zone::Zone::parse)]
        zone: Option<jemput_core::zone::Zone>,
        /// Its BPS code (10 digits): registry rows may carry it instead of the
        /// Kemendagri code; devices take it at their next login or token renewal.
        #[arg(long, value_parser = bps_code)]
        bps: Option<String>,
        /// The verification round: month (default) or quarter. "Visited this
        /// period", the dashboard and the export count it; devices take it at their
        /// next login or token renewal.
        #[arg(long, value_parser = jemput_core::dashboard::PeriodKind::parse)]
        period: Option<jemput_core::dashboard::PeriodKind>,
        /// The day of the month (1-28) the Muskel is due by (default 14).
        #[arg(long)]
        muskel_day: Option<u8>,
        /// Days after a Muskel to key its approved proposals into SIKS-NG (default 7).
        #[arg(long)]
        siks_days: Option<u16>,
        /// Days a complaint may stay open after the day it was received (default 30).
        #[arg(long)]
        complaint_days: Option<u16>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Checks every chain: exit 1 naming each altered or removed entry.
    Verify,
    /// Prints entries (JSON lines), of the last day unless --since.
    Show {
        /// A date (YYYY-MM-DD) or an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
    },
}

/// Who the admin tool records as the author of what it does.
const ADMIN_CLI: &str = "admin-cli";
const SERVER: &str = jemput_sync_server::audit::SERVER_CHAIN;

fn audit(
    storage: &dyn Storage,
    chain: &str,
    kind: &str,
    detail: serde_json::Value,
) -> anyhow::Result<()> {
    storage.audit(jemput_sync_server::audit::Event {
        chain,
        kind,
        by: ADMIN_CLI,
        detail,
    })?;
    Ok(())
}

/// A password: asked without echo, or from stdin; `--password` on the command line is
/// unsafe (other users of the machine see it) and only for scripts and tests.
#[derive(clap::Args)]
struct PasswordArgs {
    /// Unsafe: visible to other processes. For scripts and tests only.
    #[arg(long, conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Read the password from the first line of stdin.
    #[arg(long)]
    password_stdin: bool,
}

fn read_password(given: Option<String>, from_stdin: bool) -> anyhow::Result<String> {
    if let Some(p) = given {
        return Ok(p);
    }
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    Ok(rpassword::prompt_password("password: ")?)
}

#[derive(clap::Args)]
struct AreaArgs {
    name: String,
    #[arg(long)]
    kelurahan: String,
    /// RW number; repeatable (`3` and `003` are the same RW).
    #[arg(long)]
    rw: Vec<String>,
}

fn kelurahan_code(code: &str) -> anyhow::Result<String> {
    let parts: Vec<&str> = code.split('.').collect();
    let ok = parts.len() == 4
        && [2, 2, 2, 4]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_digit()));
    if !ok {
        bail!("kelurahan code must look like 35.73.01.1007 (Kemendagri format), got `{code}`");
    }
    Ok(code.to_string())
}

/// A BPS village code: 10 digits (`3573010007`; dots are dropped).
fn bps_code(code: &str) -> Result<String, String> {
    let digits: String = code.chars().filter(|c| *c != '.').collect();
    if digits.len() == 10 && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(format!(
            "a BPS code has 10 digits, like 3573010007; got `{code}`"
        ))
    }
}

fn areas(args: &AreaArgs) -> anyhow::Result<Vec<Area>> {
    let kelurahan = kelurahan_code(&args.kelurahan)?;
    if args.rw.is_empty() {
        return Ok(vec![Area {
            kelurahan,
            rw: None,
        }]);
    }
    args.rw
        .iter()
        .map(|rw| {
            let n: u16 = rw
                .trim()
                .parse()
                .with_context(|| format!("RW must be a number, got `{rw}`"))?;
            if n == 0 || n > 999 {
                bail!("RW must be between 1 and 999, got `{rw}`");
            }
            Ok(Area {
                kelurahan: kelurahan.clone(),
                rw: Some(n),
            })
        })
        .collect()
}

fn main() {
    if let Err(e) = run() {
        match stopped(&e) {
            // A registry import's whole-file checks: said in JEMPUT_LANG (default
            // Indonesian), with their own exit code (2: the file was refused, 3: the
            // number marked missing needs confirming).
            Some(stop) => {
                eprintln!("error: {}", stop.text(jemput_core::words::Lang::from_env()));
                std::process::exit(stop.exit_code());
            }
            None => {
                // The registry's own errors in JEMPUT_LANG too.
                match e
                    .chain()
                    .find_map(|c| c.downcast_ref::<jemput_core::registry::RegistryError>())
                {
                    Some(r) => eprintln!("error: {}", r.text(jemput_core::words::Lang::from_env())),
                    None => eprintln!("error: {e:#}"),
                }
                std::process::exit(1);
            }
        }
    }
}

/// `restore FILE`: the backup replaces the SQLite store in --data DIR, then the store
/// takes a new identity (remembering the backup's and the replaced store's).
fn restore(cli: &Cli, file: &Path) -> anyhow::Result<()> {
    let Some(dir) = &cli.data else {
        bail!("a PostgreSQL database is restored with pg_restore; then run `jemput-sync-server --database URL restored`");
    };
    let replaced = SqliteStorage::restore(dir, file)?;
    let mut storage = SqliteStorage::open(dir)?;
    if let Some(path) = &cli.key_file {
        storage = storage.with_key_file(path)?;
    }
    let id = storage.restored(replaced)?;
    println!(
        "restored {} into {}: the store's id is now {id:016x}; devices start again at their next sync",
        file.display(),
        dir.display()
    );
    Ok(())
}

fn stopped(e: &anyhow::Error) -> Option<&jemput_core::registry::Stop> {
    e.chain()
        .find_map(|c| match c.downcast_ref::<StorageError>() {
            Some(StorageError::Stopped(stop)) => Some(stop),
            _ => c.downcast_ref::<jemput_core::registry::Stop>(),
        })
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Restore { file } = &cli.command {
        return restore(&cli, file);
    }
    let storage: Arc<dyn Storage> = match (&cli.database, &cli.data) {
        (Some(url), _) => {
            let mut s = PostgresStorage::connect_with_ca(url, cli.database_ca.as_deref())?;
            if let Some(path) = &cli.key_file {
                s = s.with_key_file(path)?;
            }
            Arc::new(s)
        }
        (None, Some(dir)) => {
            let mut s = SqliteStorage::open(dir)?;
            if let Some(path) = &cli.key_file {
                s = s.with_key_file(path)?;
            }
            Arc::new(s)
        }
        (None, None) => anyhow::bail!("give --data DIR or --database URL"),
    };
    match cli.command {
        Command::Serve {
            listen,
            tls_cert,
            tls_key,
            max_connections,
            header_timeout,
            max_in_flight,
        } => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "info".into()),
                )
                .with_writer(std::io::stderr)
                .init();
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async move {
                let mut options = jemput_sync_server::net::Listen {
                    max_connections: max_connections.max(2),
                    header_timeout: std::time::Duration::from_secs(header_timeout.clamp(1, 300)),
                    max_in_flight: max_in_flight.max(1),
                    ..Default::default()
                };
                if let (Some(cert), Some(key)) = (&tls_cert, &tls_key) {
                    let (config, pin) = jemput_sync_server::net::tls_config(cert, key)?;
                    options.tls = Some(config);
                    println!("certificate pin {pin}");
                }
                let listener = tokio::net::TcpListener::bind(&listen)
                    .await
                    .with_context(|| format!("cannot listen on {listen}"))?;
                let scheme = if options.tls.is_some() {
                    "https"
                } else {
                    "http"
                };
                println!("listening on {scheme}://{}", listener.local_addr()?);
                let shutdown = async {
                    let _ = tokio::signal::ctrl_c().await;
                };
                let storage: Arc<dyn Storage> = storage;
                // The audit chains' heads in the server log, at start and daily: a third
                // copy outside the database.
                let heads_of = storage.clone();
                tokio::spawn(async move {
                    let mut daily =
                        tokio::time::interval(std::time::Duration::from_secs(24 * 3600));
                    loop {
                        daily.tick().await;
                        // Store calls block: off the async workers.
                        let store = heads_of.clone();
                        let read = tokio::task::spawn_blocking(move || store.audit_heads()).await;
                        if let Ok(Ok((heads, _))) = read {
                            let heads = serde_json::to_string(&heads).unwrap_or_default();
                            tracing::info!(%heads, "audit heads");
                        }
                    }
                });
                jemput_sync_server::serve(listener, storage, options, shutdown).await?;
                Ok::<_, anyhow::Error>(())
            })?;
        }
        Command::TlsCert { names, out_dir } => {
            let dir = match (out_dir, &cli.data) {
                (Some(d), _) => d,
                (None, Some(data)) => data.join("tls"),
                (None, None) => anyhow::bail!("with --database, say where with --out"),
            };
            let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
            if !cert.exists() || !key.exists() {
                let (cert_pem, key_pem) = jemput_sync_server::net::self_signed(&names)?;
                std::fs::create_dir_all(&dir)?;
                write_private(&key, key_pem.as_bytes())?;
                write_private(&cert, cert_pem.as_bytes())?;
            }
            let (_, pin) = jemput_sync_server::net::tls_config(&cert, &key)?;
            println!("certificate {}", cert.display());
            println!("key {}", key.display());
            println!("pin {pin}");
        }
        Command::Demo {
            seed,
            households,
            rws,
        } => {
            let hh = match households {
                Some(n) => {
                    let mut rng =
                        <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(seed);
                    demo::households_n(&mut rng, seed, n, rws)
                }
                None => demo::households(seed),
            }
            .map_err(anyhow::Error::msg)?;
            let added = storage.insert_households(&hh)?;
            println!(
                "demo: Kelurahan Purwantoro ({}), {} households ({} new), 24 RW, 155 RT",
                demo::KELURAHAN,
                hh.len(),
                added
            );
            for u in demo::demo_users() {
                let role = Role::parse(u.role).context("demo role")?;
                storage.add_user(&u.name, role, demo::DEMO_PASSWORD)?;
                storage.assign(
                    &u.name,
                    &Area {
                        kelurahan: demo::KELURAHAN.into(),
                        rw: u.rw,
                    },
                )?;
                let area =
                    u.rw.map_or("whole kelurahan".to_string(), |rw| format!("RW {rw:02}"));
                println!(
                    "login: user {:<18} password {}  ({}, {})",
                    u.name,
                    demo::DEMO_PASSWORD,
                    u.role,
                    area
                );
            }
        }
        Command::DemoRegistry {
            out,
            households,
            rws,
            seed,
        } => {
            let rows = demo::registry_rows(seed, households, rws);
            demo::write_csv(&out, &rows)
                .with_context(|| format!("cannot write {}", out.display()))?;
            // Its rows carry the demo kelurahan's BPS code: the server knows it.
            if storage.bps(demo::KELURAHAN)?.is_none() {
                storage.set_bps(demo::KELURAHAN, demo::KELURAHAN_BPS)?;
            }
            println!(
                "demo registry: {households} households, {} member rows in {}",
                rows.len() - 1,
                out.display()
            );
        }
        Command::User {
            command:
                UserCommand::Add {
                    name,
                    role,
                    password,
                },
        } => {
            let r = Role::parse(&role).with_context(|| {
                format!("role must be kader, operator, fasilitator or admin, got `{role}`")
            })?;
            let password = read_password(password.password, password.password_stdin)?;
            storage.add_user(&name, r, &password)?;
            audit(
                &*storage,
                SERVER,
                "user_changed",
                serde_json::json!({ "user": name, "role": role, "change": "saved" }),
            )?;
            println!("user {name} ({role}) saved");
        }
        Command::User {
            command:
                UserCommand::Passwd {
                    name,
                    password_stdin,
                },
        } => {
            let password = read_password(None, password_stdin)?;
            if !storage.set_password(&name, &password)? {
                bail!("no user `{name}`");
            }
            audit(
                &*storage,
                SERVER,
                "user_changed",
                serde_json::json!({ "user": name, "change": "password" }),
            )?;
            println!("password of {name} changed; its devices log in again");
        }
        Command::User {
            command: command @ (UserCommand::Disable { .. } | UserCommand::Enable { .. }),
        } => {
            let (name, disabled) = match command {
                UserCommand::Disable { name } => (name, true),
                UserCommand::Enable { name } => (name, false),
                _ => unreachable!("matched above"),
            };
            if !storage.set_disabled(&name, disabled)? {
                bail!("no user `{name}`");
            }
            let change = if disabled { "disabled" } else { "enabled" };
            audit(
                &*storage,
                SERVER,
                "user_changed",
                serde_json::json!({ "user": name, "change": change }),
            )?;
            if disabled {
                println!("user {name} disabled; its devices erase their data at next contact");
            } else {
                println!("user {name} enabled");
            }
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let entries = storage.audit_entries(i64::MIN)?;
            let (stored, file) = storage.audit_heads()?;
            let mut problems = jemput_sync_server::audit::verify(&entries, &stored);
            match file {
                Some(outside) => {
                    for p in jemput_sync_server::audit::verify(&entries, &outside) {
                        problems.push(format!("{p} (audit-heads.json)"));
                    }
                }
                // PostgreSQL has no directory beside it: the heads outside the store
                // are the daily log line's.
                None if !entries.is_empty() && cli.database.is_none() => {
                    problems.push("audit-heads.json is missing or unreadable".into())
                }
                None => {}
            }
            problems.dedup();
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("{p}");
                }
                bail!("the audit log does not verify: {} problems", problems.len());
            }
            println!(
                "audit log verified: {} entries in {} chains",
                entries.len(),
                stored.len()
            );
        }
        Command::Audit {
            command: AuditCommand::Show { since },
        } => {
            let since_ms = match since {
                // A date is the start of that day; a time is itself.
                Some(s) if s.len() == 10 => {
                    Zone::default().parse_when(&s).map_err(anyhow::Error::msg)? - 24 * 3600 * 1000
                        + 1
                }
                Some(s) => Zone::default().parse_when(&s).map_err(anyhow::Error::msg)?,
                None => jemput_sync_server::service::now_ms() - 24 * 3600 * 1000,
            };
            for e in storage.audit_entries(since_ms)? {
                println!("{}", serde_json::to_string(&e)?);
            }
        }
        Command::Devices { user, json } => {
            let list = storage.devices(user.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for d in list {
                    let seen = if d.last_seen_ms > 0 {
                        date_time_of(d.last_seen_ms)
                    } else {
                        "never".into()
                    };
                    let state = if d.revoked { "revoked" } else { "active" };
                    println!(
                        "{}  {}  {}  last contact {}  {}",
                        d.device, d.user, d.name, seen, state
                    );
                }
            }
        }
        Command::Assign(args) => {
            for a in areas(&args)? {
                storage.assign(&args.name, &a)?;
            }
            println!(
                "{} now holds: {}",
                args.name,
                keys(&storage.areas(&args.name)?)
            );
        }
        Command::Unassign(args) => {
            for a in areas(&args)? {
                storage.unassign(&args.name, &a)?;
            }
            println!(
                "{} now holds: {}",
                args.name,
                keys(&storage.areas(&args.name)?)
            );
        }
        Command::Move { household, rw, rt } => {
            if rw == 0 || rt == 0 {
                bail!("RW and RT must be 1 or more");
            }
            let admin = Author::new("ad000000000000000000000000000001", "admin")?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            if !storage.move_household(&household, rw, rt, &admin, now)? {
                bail!("no household `{household}`");
            }
            println!("household {household} moved to RW {rw} RT {rt}");
        }
        Command::BundleImport { file } => {
            let sealed =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            // Bundle files are encrypted to the server's bundle key (among others).
            let bytes = jemput_core::bundle::unseal(
                &sealed,
                &storage.bundle_identity()?,
                jemput_core::bundle::MAX_BUNDLE,
            )?;
            let r = storage.import_bundle(&bytes)?;
            println!(
                "bundle from {} ({}): {} households accepted, {} refused",
                r.device,
                r.user,
                r.accepted,
                r.rejected.len()
            );
            for rej in r.rejected {
                println!("refused {}: {} ({})", rej.id, rej.reason, rej.code);
            }
        }
        Command::Import {
            file,
            kelurahan,
            partial,
            bps,
            map,
            user,
            confirm_missing,
            dry_run,
        } => import(
            storage.as_ref(),
            cli.data.as_deref(),
            &file,
            &kelurahan,
            bps,
            &map,
            &ImportRun {
                partial,
                user: &user,
                confirm_missing,
                dry_run,
            },
        )?,
        Command::Export {
            kelurahan,
            cutoff,
            since,
            out,
        } => {
            let kelurahan = kelurahan_code(&kelurahan)?;
            // A date is the end of that day in the kelurahan's zone.
            let zone = storage.zone(&kelurahan)?;
            let cutoff_ms = zone.parse_when(&cutoff).map_err(anyhow::Error::msg)?;
            let period = export::period(
                cutoff_ms,
                since.as_deref(),
                storage.period_kind(&kelurahan)?,
                zone,
            )
            .map_err(anyhow::Error::msg)?;
            let (rows, last_arrival_ms) =
                export::arrived(storage.export_rows(&kelurahan, cutoff_ms)?, |_| true);
            let summary = export::summarise(&rows, &period);
            let since = period.start.clone();
            let about = export::About {
                cutoff_ms,
                last_arrival_ms,
                period,
            };
            let files = export::write(&out, &rows, &summary, &about)?;
            audit(
                &*storage,
                &kelurahan,
                "export",
                serde_json::json!({ "rows": rows.len(), "cutoff_ms": cutoff_ms }),
            )?;
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            println!(
                "export: {} households of {kelurahan} as of {cutoff} ({}), visits since {since}: {}",
                rows.len(),
                zone.name(),
                names.join(", ")
            );
        }
        Command::Heads => {
            println!("{}", serde_json::to_string_pretty(&storage.heads()?)?);
        }
        Command::Doc { household, out } => {
            let bytes = storage
                .document(&household)?
                .with_context(|| format!("no household `{household}`"))?;
            std::fs::write(&out, &bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("{} bytes written to {}", bytes.len(), out.display());
        }
        Command::Households {
            kelurahan,
            rw,
            json,
        } => {
            let list = storage.households(kelurahan.as_deref(), rw)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for h in list {
                    println!("{}  {} RW {} RT {}", h.id, h.kelurahan, h.rw, h.rt);
                }
            }
        }
        Command::Backup { out } => {
            let Some(dir) = &cli.data else {
                bail!("a PostgreSQL database is backed up with pg_dump (README, \"Backup and restore\")");
            };
            let copied = SqliteStorage::backup(dir, &out)?;
            println!("backup written to {} ({copied} B)", out.display());
        }
        Command::Restore { .. } => unreachable!("handled before the store opens"),
        Command::Restored => {
            let id = storage.restored(None)?;
            println!("the store is restored: its id is now {id:016x}; devices start again at their next sync");
        }
        Command::ServerId => println!("{:016x}", storage.server_id()?),
        Command::Quarantine => {
            println!(
                "{}",
                serde_json::to_string_pretty(&storage.quarantine_reports()?)?
            );
        }
        Command::Kelurahan {
            command:
                KelurahanCommand::Set {
                    name,
                    lock_minutes,
                    zone,
                    bps,
                    period,
                    muskel_day,
                    siks_days,
                    complaint_days,
                },
        } => {
            let name = kelurahan_code(&name)?;
            if let Some(minutes) = lock_minutes {
                storage.set_lock_minutes(&name, minutes)?;
                audit(
                    &*storage,
                    &name,
                    "setting",
                    serde_json::json!({ "lock_minutes": minutes }),
                )?;
                println!(
                    "{name}: the app asks for the PIN after {minutes} minutes in the background"
                );
            }
            if let Some(zone) = zone {
                storage.set_zone(&name, zone)?;
                audit(
                    &*storage,
                    &name,
                    "setting",
                    serde_json::json!({ "zone": zone }),
                )?;
            }
            if let Some(bps) = bps {
                storage.set_bps(&name, &bps)?;
                audit(
                    &*storage,
                    &name,
                    "setting",
                    serde_json::json!({ "bps": bps }),
                )?;
            }
            if let Some(period) = period {
                storage.set_period_kind(&name, period)?;
                audit(
                    &*storage,
                    &name,
                    "setting",
                    serde_json::json!({ "period": period }),
                )?;
            }
            println!(
                "{name}: time zone {}: cut-offs, visit dates and months are days in it",
                storage.zone(&name)?.describe()
            );
            if muskel_day.is_some() || siks_days.is_some() || complaint_days.is_some() {
                let d = storage.deadlines(&name)?;
                let d = jemput_core::muskel::Deadlines {
                    muskel_day: muskel_day.unwrap_or(d.muskel_day),
                    siks_days: siks_days.unwrap_or(d.siks_days),
                    complaint_days: complaint_days.unwrap_or(d.complaint_days),
                };
                storage.set_deadlines(&name, d)?;
                audit(
                    &*storage,
                    &name,
                    "setting",
                    serde_json::json!({ "deadlines": d }),
                )?;
            }
            println!(
                "{name}: the verification round is a {}",
                storage.period_kind(&name)?.name()
            );
            let d = storage.deadlines(&name)?;
            println!(
                "{name}: the Muskel by day {} of the month, SIKS-NG input {} days after it, complaints due in {} days",
                d.muskel_day, d.siks_days, d.complaint_days
            );
            if let Some(bps) = storage.bps(&name)? {
                println!("{name}: BPS code {bps}: registry rows may carry either code");
            }
        }
        Command::Revoke { device } => {
            if !storage.revoke_device(&device)? {
                bail!("no device `{device}`");
            }
            audit(
                &*storage,
                SERVER,
                "device_revoked",
                serde_json::json!({ "device": device }),
            )?;
            println!("device {device} revoked");
        }
    }
    Ok(())
}

/// The registry's column mapping (`--map`), kept by the server as JSON.
const MAPPING: &str = "import-mapping";

fn import(
    storage: &dyn Storage,
    data: Option<&Path>,
    file: &Path,
    kelurahan: &str,
    bps: Option<String>,
    map: &[String],
    how: &ImportRun<'_>,
) -> anyhow::Result<()> {
    let (partial, user) = (how.partial, how.user);
    let kelurahan = kelurahan_code(kelurahan)?;
    // The mapping lives in the store; a data folder's older import-mapping.json is
    // read when the store has none yet.
    let kept = match storage.server_value(MAPPING)? {
        Some(json) => Some(json.into_bytes()),
        None => data.and_then(|d| std::fs::read(d.join("import-mapping.json")).ok()),
    };
    let mut mapping: Mapping = match kept {
        Some(b) => serde_json::from_slice(&b).context("the kept column mapping is damaged")?,
        None => Mapping::default(),
    };
    for m in map {
        mapping.set_pair(m).map_err(anyhow::Error::msg)?;
    }
    // A dry run writes nothing: the mapping is used, not saved.
    if !map.is_empty() && !how.dry_run {
        storage.set_server_value(MAPPING, &serde_json::to_string_pretty(&mapping)?)?;
    }
    // Without --bps, the code the server knows (rows may carry either code).
    let given = bps.clone();
    let bps = match bps {
        Some(b) => Some(b),
        None => storage.kelurahan_bps(&kelurahan)?,
    };
    let opts = ImportOptions {
        kelurahan: kelurahan.clone(),
        kelurahan_bps: bps,
        partial,
        mapping,
        // Birth dates after today are impossible: today in the kelurahan's zone.
        today: storage
            .zone(&kelurahan)?
            .date_of(jemput_sync_server::service::now_ms()),
    };
    eprintln!("reading {} …", file.display());
    let parsed = jemput_core::registry::parse_file(file, &opts)?;
    let rejected_file = if how.dry_run {
        None
    } else {
        jemput_core::registry::write_rejected(file, &parsed)?
    };
    if !parsed.unrecognised.is_empty() {
        eprintln!(
            "columns not read: {} (map one with --map 'HEADER=FIELD')",
            parsed.unrecognised.join(", ")
        );
    }
    let (rows, members, rejected, households) = (
        parsed.rows,
        parsed.members,
        parsed.rejected.len(),
        parsed.households.len(),
    );
    let mut bar = ProgressBar::new("import");
    let result = storage.import_registry(parsed, &kelurahan, how, &mut |d, t| bar.show(d, t));
    bar.finish();
    if let (Err(_), Some(f)) = (&result, &rejected_file) {
        // Why the rows were refused is in the file, row by row.
        eprintln!("rejected rows: {}", f.csv.display());
        eprintln!("rejected rows (Excel): {}", f.xlsx.display());
    }
    let (counts, coverage) = result?;
    let line = format!(
        "{households} households, {members} members from {rows} rows: {} created, {} updated, {} unchanged, {} marked missing; {rejected} rows rejected; {}",
        counts.created, counts.updated, counts.unchanged, counts.missing, coverage.describe()
    );
    if how.dry_run {
        println!("import (dry run, nothing written): {line}");
        return Ok(());
    }
    storage.audit(jemput_sync_server::audit::Event {
        chain: &kelurahan,
        kind: "import",
        by: user,
        detail: serde_json::json!({
            "created": counts.created, "updated": counts.updated,
            "unchanged": counts.unchanged, "marked_missing": counts.missing,
            "rejected_rows": rejected, "partial": partial,
        }),
    })?;
    // The code given for a kelurahan whose code was not known yet is its code from now
    // on: later imports and its devices take it (`kelurahan set --bps` changes it).
    if let Some(b) = given {
        if storage.bps(&kelurahan)?.is_none() {
            storage.set_bps(&kelurahan, &b)?;
        }
    }
    println!("import: {line}");
    if let Some(f) = rejected_file {
        println!("rejected rows: {}", f.csv.display());
        println!("rejected rows (Excel): {}", f.xlsx.display());
    }
    Ok(())
}

/// A bar on a terminal (redrawn at most ten times a second), a line per tenth on a
/// pipe.
struct ProgressBar {
    what: &'static str,
    tty: bool,
    last: std::time::Instant,
    tenth: usize,
}

impl ProgressBar {
    fn new(what: &'static str) -> ProgressBar {
        use std::io::IsTerminal;
        ProgressBar {
            what,
            tty: std::io::stderr().is_terminal(),
            last: std::time::Instant::now(),
            tenth: 0,
        }
    }
    fn show(&mut self, done: usize, total: usize) -> bool {
        let total = total.max(1);
        if self.tty {
            if self.last.elapsed().as_millis() >= 100 || done == total {
                self.last = std::time::Instant::now();
                let filled = done * 30 / total;
                eprint!(
                    "\r{} [{}{}] {:>3}% {done}/{total}",
                    self.what,
                    "#".repeat(filled),
                    ".".repeat(30 - filled),
                    done * 100 / total
                );
            }
        } else if done * 10 / total > self.tenth {
            self.tenth = done * 10 / total;
            eprintln!("{}: {}% ({done}/{total})", self.what, self.tenth * 10);
        }
        true
    }
    fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC) of a time in milliseconds.
fn date_time_of(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn keys(areas: &[Area]) -> String {
    if areas.is_empty() {
        return "no areas".into();
    }
    areas.iter().map(Area::key).collect::<Vec<_>>().join(", ")
}

/// Writes a file only its owner can read (0600 on Unix).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
