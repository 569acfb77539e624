//! `jemput-sync-server`: serve the sync API, or administer users, areas and demo data.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use jemput_core::household::Author;
use jemput_core::sync::Area;
use jemput_sync_server::storage::Role;
use jemput_sync_server::{demo, SqliteStorage, Storage};

#[derive(Parser)]
#[command(
    name = "jemput-sync-server",
    about = "Jemput sync server and admin tool"
)]
struct Cli {
    /// Directory holding the server's database.
    #[arg(long, env = "JEMPUT_DATA")]
    data: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the sync API; prints the bound address.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
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
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Give a user areas (additive). No --rw: the whole kelurahan.
    Assign(AreaArgs),
    /// Take areas away from a user.
    Unassign(AreaArgs),
    /// Revoke a device's token (a lost phone).
    Revoke { device: String },
    /// Print every household's document heads as JSON (to compare replicas).
    Heads,
    /// Apply a device's bundle file (sync by file), with the same checks as a sync.
    BundleImport { file: PathBuf },
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
    Add {
        name: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        password: String,
    },
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
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let storage = Arc::new(SqliteStorage::open(&cli.data)?);
    match cli.command {
        Command::Serve { listen } => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "info".into()),
                )
                .with_writer(std::io::stderr)
                .init();
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(&listen)
                    .await
                    .with_context(|| format!("cannot listen on {listen}"))?;
                println!("listening on http://{}", listener.local_addr()?);
                let shutdown = async {
                    let _ = tokio::signal::ctrl_c().await;
                };
                let storage: Arc<dyn Storage> = storage;
                jemput_sync_server::serve(listener, storage, shutdown).await?;
                Ok::<_, anyhow::Error>(())
            })?;
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
            storage.add_user(&name, r, &password)?;
            println!("user {name} ({role}) saved");
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
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
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
        Command::Heads => {
            println!("{}", serde_json::to_string_pretty(&storage.heads()?)?);
        }
        Command::Revoke { device } => {
            if !storage.revoke_device(&device)? {
                bail!("no device `{device}`");
            }
            println!("device {device} revoked");
        }
    }
    Ok(())
}

fn keys(areas: &[Area]) -> String {
    if areas.is_empty() {
        return "no areas".into();
    }
    areas.iter().map(Area::key).collect::<Vec<_>>().join(", ")
}
