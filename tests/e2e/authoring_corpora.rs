//! `new --from-drift` regenerating real migrations: for a step i of crates-io, vaultwarden
//! (PostgreSQL and SQLite), atuin and karakeep, a database is brought to migration i, migration
//! i+1's up is applied by hand, and the authoring operation writes the migration from the
//! history (the first i migrations) to that database. It must pass the verification `check`
//! would make: the history then the new up give exactly the real step's schema, and the new
//! down gives the schema before it back. Steps that needed a rename or could not be expressed
//! are counted, with why.
//!
//! Bounded for CI: a few steps per corpus, picked with a fixed seed; `AUTHORING_ALL_STEPS=1`
//! walks every step (slow: each step starts a scratch database).

use crate::support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cargo_migrate::config::MigrateConfig;
use cargo_migrate::db::history::HistoryFormat;
use cargo_migrate::db::{DatabaseUrl, Direction};
use cargo_migrate::dialect::Dialect;
use cargo_migrate::engine::author::{self, AuthorRequest, Target};
use cargo_migrate::engine::replay::Replayer;
use cargo_migrate::migration::{Layout, Migrations, ScanOptions, scan};
use cargo_migrate::sandbox::Provider;
use cargo_migrate::workspace::{DialectSource, SetSpec, Workspace};

/// Steps sampled per corpus in CI.
const SAMPLED: usize = 3;
/// A corpus stops sampling more steps after this long (CI stays well under its budget).
const BUDGET: Duration = Duration::from_secs(120);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A small deterministic generator (the steps sampled stay the same from run to run).
fn sample(total: usize, count: usize, seed: u64) -> Vec<usize> {
    let mut state = seed;
    let mut picked = Vec::new();
    while picked.len() < count.min(total) {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let at = ((state >> 33) as usize) % total;
        if !picked.contains(&at) {
            picked.push(at);
        }
    }
    picked.sort_unstable();
    picked
}

#[derive(Default, Debug)]
struct Counts {
    steps: usize,
    verified: usize,
    /// Steps with a drop + add pair of the same shape (a rename answer would be asked).
    renames: Vec<String>,
    /// Steps no SQL fully expresses, with the reason.
    incomplete: Vec<String>,
    /// Steps whose migration cannot be applied by hand here (with why).
    skipped: Vec<String>,
    /// No difference: the step changes data only.
    unchanged: usize,
}

fn every_step() -> bool {
    std::env::var("AUTHORING_ALL_STEPS").is_ok_and(|v| v == "1")
}

/// The corpus's migrations and the steps to regenerate.
fn steps_of(corpus: &Path) -> (Migrations, Vec<usize>) {
    let options = ScanOptions {
        ignore: vec!["meta".to_string()],
        ..ScanOptions::default()
    };
    let all = scan(corpus, &options).expect("scan the corpus");
    let total = all.migrations.len();
    // `AUTHORING_STEPS=name,name`: those steps only (by migration name).
    let named: Vec<String> = std::env::var("AUTHORING_STEPS")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let steps = if !named.is_empty() {
        (0..total)
            .filter(|&at| named.contains(&all.migrations[at].name))
            .collect()
    } else if every_step() {
        (0..total).collect()
    } else {
        sample(total, SAMPLED, 14 + total as u64)
    };
    (all, steps)
}

async fn regenerate(
    all: &Migrations,
    steps: &[(usize, String)],
    dialect: Dialect,
    label: &str,
) -> Counts {
    let every = every_step();
    let out = tempfile::tempdir().expect("temporary directory");
    let spec = SetSpec {
        package: None,
        manifest_path: None,
        dir: out.path().join("migrations"),
        config: MigrateConfig::default(),
        dialect: Some((dialect, DialectSource::Flag)),
        library: None,
    };
    let workspace = Workspace {
        root: out.path().to_path_buf(),
        config: MigrateConfig::default(),
        packages: Vec::new(),
        sets: Vec::new(),
    };
    let provider = match dialect {
        Dialect::Sqlite => Provider::Sqlite,
        _ => Provider::Local,
    };
    let started = Instant::now();
    let mut counts = Counts::default();
    for (step, url) in steps {
        let step = *step;
        if !every && started.elapsed() > BUDGET {
            break;
        }
        let real = &all.migrations[step];
        // The history before the step, written to a directory set beside (the corpus is never
        // written to).
        let history = Migrations {
            // Drizzle's journal is not copied: its steps are written as directories.
            layout: match all.layout {
                Layout::Directory | Layout::Sqlx => all.layout,
                _ => Layout::Directory,
            },
            sqlx_reversible: false,
            migrations: all.migrations[..step].to_vec(),
            nested: false,
        };
        let url = DatabaseUrl::sandbox(url, dialect);
        let format = HistoryFormat::Own {
            name: "_cargo_migrate".to_string(),
        };
        let mut replayer = Replayer::open(&url, format).await.expect("open");
        if let Err((m, failure)) = replayer.apply_all(&history.migrations).await {
            panic!("{label}: {}: {failure:?}", m.name);
        }
        if let Err(failure) = replayer.run(real, Direction::Up).await {
            counts.skipped.push(format!(
                "{}: does not apply by hand: {}",
                real.name, failure.message
            ));
            continue;
        }
        drop(replayer);
        counts.steps += 1;
        let name = format!("step_{step}");
        let request = AuthorRequest {
            name: &name,
            dialect,
            sequential: false,
            renames: &[],
            allow_destructive: true,
            allow_incomplete: false,
            waits: (0, 10),
            provider: &|| Ok(provider),
            on_scratch: &|_| {},
            on_note: &|_| {},
            // Every drop + add pair of the same shape is taken as a rename: the rename path
            // must verify too (the corpus's own step may have dropped and added instead).
            ask_rename: Some(&|_| true),
            confirm_destructive: None,
        };
        let result = author::author(
            &workspace,
            &spec,
            &history,
            &Target::Live(url.clone()),
            &request,
        )
        .await;
        match result {
            Ok(report) => {
                if !report.renames.is_empty() {
                    counts.renames.push(format!(
                        "{}: {}",
                        real.name,
                        report
                            .renames
                            .iter()
                            .map(|r| format!("{} → {}", r.from_label(), r.to_label()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                match report.written {
                    Some(written) => {
                        assert!(written.verified.is_some(), "{label}: {}", real.name);
                        counts.verified += 1;
                    }
                    None => counts.unchanged += 1,
                }
            }
            Err(error) if error.code == cargo_migrate::error::ErrorCode::VersionTooLarge => {
                counts.skipped.push(format!(
                    "{}: no next version in the corpus's style",
                    real.name
                ));
            }
            Err(error) if error.code == cargo_migrate::error::ErrorCode::IncompleteMigration => {
                counts
                    .incomplete
                    .push(format!("{}: {}", real.name, error.message));
            }
            Err(error) => panic!(
                "{label}: step {step} ({}): {} ({:?})",
                real.name, error.message, error.code
            ),
        }
        // Each step writes into a fresh directory: the next step's history is the corpus's.
        let _ = std::fs::remove_dir_all(&spec.dir);
    }
    eprintln!(
        "{label}: {} steps regenerated: {} verified, {} without schema change, {} needing a rename answer {:?}, {} incomplete {:?}, {} skipped {:?}",
        counts.steps,
        counts.verified,
        counts.unchanged,
        counts.renames.len(),
        counts.renames,
        counts.incomplete.len(),
        counts.incomplete,
        counts.skipped.len(),
        counts.skipped
    );
    counts
}

fn corpus(dir: &str) -> Option<PathBuf> {
    support::corpora().map(|c| c.join(dir))
}

#[test]
fn postgres_corpora_regenerated_from_drift() {
    let Some(pg) = support::postgres() else {
        return;
    };
    for (dir, label) in [
        ("crates-io/migrations", "crates-io"),
        ("vaultwarden/migrations/postgresql", "vaultwarden-pg"),
        ("atuin/crates/atuin-server-postgres/migrations", "atuin-pg"),
    ] {
        let Some(path) = corpus(dir) else {
            return;
        };
        let short = label.replace('-', "_");
        let (all, steps) = steps_of(&path);
        let steps: Vec<(usize, String)> = steps
            .into_iter()
            .map(|step| (step, pg.database(&format!("author_{short}_{step}"))))
            .collect();
        let counts = runtime().block_on(regenerate(&all, &steps, Dialect::Postgres, label));
        assert!(
            counts.steps > 0 || std::env::var("AUTHORING_STEPS").is_ok(),
            "{label}: no step regenerated"
        );
    }
}

#[test]
fn sqlite_corpora_regenerated_from_drift() {
    for (dir, label) in [
        ("vaultwarden/migrations/sqlite", "vaultwarden-sqlite"),
        ("atuin/crates/atuin-client/migrations", "atuin-client"),
        ("karakeep/packages/db/drizzle", "karakeep"),
    ] {
        let Some(path) = corpus(dir) else {
            return;
        };
        let temp = tempfile::tempdir().expect("temporary directory");
        let root = temp.path().to_path_buf();
        let (all, steps) = steps_of(&path);
        let steps: Vec<(usize, String)> = steps
            .into_iter()
            .map(|step| {
                let url = format!("sqlite:{}", root.join(format!("step{step}.db")).display());
                (step, url)
            })
            .collect();
        let counts = runtime().block_on(regenerate(&all, &steps, Dialect::Sqlite, label));
        assert!(
            counts.steps > 0 || std::env::var("AUTHORING_STEPS").is_ok(),
            "{label}: no step regenerated"
        );
    }
}
