//! Finding a workspace's migration sets with `cargo metadata`, or taking one `--dir` without
//! Cargo (production images).

use std::path::{Path, PathBuf};

use cargo_metadata::{Metadata, MetadataCommand, Package};
use serde::Serialize;

use crate::config::MigrateConfig;
use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode, Result, display_path};
use crate::migration::{self, Layout, Migrations, ScanOptions, VersionStyle};

/// Where the migration sets come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A Cargo workspace; `manifest_path` as given by `--manifest-path`, if any.
    Cargo { manifest_path: Option<PathBuf> },
    /// One directory, no Cargo (`--dir PATH --dialect D`), with the settings of an optional
    /// TOML file (`--config FILE`: the keys of `[package.metadata.migrate]`).
    Dir {
        dir: PathBuf,
        config: Option<PathBuf>,
    },
}

/// Why a set has the dialect it has; shown with `-v` so a surprising dialect can be traced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DialectSource {
    Flag,
    Config,
    Dependencies,
    DirectoryName,
}

/// A migration set before its files are read.
#[derive(Debug, Clone)]
pub struct SetSpec {
    /// The owning package; `None` for a workspace-root set or a `--dir` set.
    pub package: Option<String>,
    /// The package's (or workspace's) Cargo.toml; `None` for a `--dir` set.
    pub manifest_path: Option<PathBuf>,
    pub dir: PathBuf,
    pub config: MigrateConfig,
    pub dialect: Option<(Dialect, DialectSource)>,
    /// The migration library the owning crate depends on; decides a new set's layout and
    /// version style so the library's own loader reads what `new` writes.
    pub library: Option<Library>,
}

/// A migration library whose loader reads a set: a set `new` starts in a crate depending on
/// one is written the way that library's loader reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Library {
    /// `sqlx::migrate!()` embeds flat files and ignores directories.
    Sqlx,
    /// `diesel_migrations` reads `<version>_<name>/up.sql` directories.
    Diesel,
}

impl Library {
    pub fn layout(self) -> Layout {
        match self {
            Library::Sqlx => Layout::Sqlx,
            Library::Diesel => Layout::Directory,
        }
    }

    /// The version style of a set's first migration: what `diesel migration generate` writes
    /// (`2024-01-01-120000-0000`), or the plain timestamp sqlx's tools write.
    pub fn version_style(self) -> VersionStyle {
        match self {
            Library::Sqlx => VersionStyle::Timestamp,
            Library::Diesel => VersionStyle::DashedTimestamp { with_suffix: true },
        }
    }

    /// The library a crate's (non-dev) dependencies name, when they name exactly one.
    pub fn from_dependency_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Library> {
        let mut found: Vec<Library> = names
            .into_iter()
            .filter_map(|name| match name {
                "sqlx" => Some(Library::Sqlx),
                "diesel" | "diesel_migrations" | "diesel-async" => Some(Library::Diesel),
                _ => None,
            })
            .collect();
        found.sort_by_key(|l| *l as u8);
        found.dedup();
        match found.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }
}

impl SetSpec {
    pub fn dialect(&self) -> Option<Dialect> {
        self.dialect.map(|(d, _)| d)
    }

    /// How the set is named in messages: its package, or its directory.
    pub fn label(&self, root: &Path) -> String {
        match &self.package {
            Some(package) => package.clone(),
            None => relative_to(&self.dir, root),
        }
    }

    pub fn scan(&self) -> Result<Migrations> {
        migration::scan(
            &self.dir,
            &ScanOptions {
                ignore: self.config.ignore.clone(),
                default_layout: self.config.layout.or(self.library.map(Library::layout)),
            },
        )
    }
}

/// A package of the workspace, for `new -p` on a package that has no set yet.
#[derive(Debug, Clone)]
pub struct PackageInfo {
    pub name: String,
    pub manifest_path: PathBuf,
    pub config: MigrateConfig,
    pub inferred_dialect: Option<Dialect>,
    pub library: Option<Library>,
}

impl PackageInfo {
    pub fn root(&self) -> &Path {
        self.manifest_path.parent().unwrap_or(Path::new("."))
    }
}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub config: MigrateConfig,
    pub packages: Vec<PackageInfo>,
    pub sets: Vec<SetSpec>,
}

impl Workspace {
    /// Discovers the sets. `dialect_flag` (`--dialect`) overrides every other source.
    pub fn load(source: &Source, dialect_flag: Option<Dialect>) -> Result<Workspace> {
        match source {
            Source::Dir { dir, config } => {
                let root = std::env::current_dir().map_err(|e| {
                    Error::io(
                        ErrorCode::UnreadableDirectory,
                        "read the current directory",
                        Path::new("."),
                        &e,
                    )
                })?;
                let dir = root.join(dir);
                if !dir.exists() {
                    return Err(Error::input(
                        ErrorCode::MissingDirectory,
                        "the migrations directory does not exist",
                    )
                    .at_path(&dir)
                    .hint("check the --dir path"));
                }
                if !dir.is_dir() {
                    return Err(Error::input(
                        ErrorCode::UnreadableDirectory,
                        "--dir is not a directory",
                    )
                    .at_path(&dir)
                    .hint("pass the directory that holds the migrations"));
                }
                // No Cargo: no dependencies to consult, and settings only from --config.
                let config = match config {
                    Some(path) => Self::read_config_file(&root.join(path))?,
                    None => MigrateConfig::default(),
                };
                let dialect = resolve_dialect(dialect_flag, config.dialect, None, &dir);
                Ok(Workspace {
                    root,
                    config: config.clone(),
                    packages: Vec::new(),
                    sets: vec![SetSpec {
                        package: None,
                        manifest_path: None,
                        dir,
                        config,
                        dialect,
                        library: None,
                    }],
                })
            }
            Source::Cargo { manifest_path } => {
                let metadata = cargo_metadata(manifest_path.as_deref())?;
                from_metadata(&metadata, dialect_flag)
            }
        }
    }

    /// The settings of a `--config FILE` (the keys of `[package.metadata.migrate]` at the top
    /// level), for `--dir` runs where no `Cargo.toml` is read. Relative paths in it (`templates`)
    /// are relative to the file.
    fn read_config_file(path: &Path) -> Result<MigrateConfig> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            Error::io(
                ErrorCode::UnreadableFile,
                "read the configuration file",
                path,
                &err,
            )
            .hint("pass the path of a TOML file with the keys of [package.metadata.migrate]")
        })?;
        let table: toml::Table = toml::from_str(&text).map_err(|err| {
            let line = err
                .span()
                .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
            Error::input(
                ErrorCode::BadConfig,
                format!(
                    "the configuration file is not valid TOML: {}",
                    err.message()
                ),
            )
            .at(match line {
                Some(line) => format!("{}:{line}", crate::error::display_path(path)),
                None => crate::error::display_path(path),
            })
            .hint("write `key = \"value\"` lines, e.g. `history-table = \"app_migrations\"`")
        })?;
        // The parser reads metadata as cargo metadata gives it: JSON.
        let value = serde_json::to_value(&table).map_err(|err| {
            Error::input(
                ErrorCode::BadConfig,
                format!("the configuration file cannot be read: {err}"),
            )
            .at_path(path)
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let config = MigrateConfig::parse(&value, "the configuration file", path, base)?;
        if config.dir.is_some() {
            return Err(Error::input(
                ErrorCode::BadConfig,
                "`dir` in the configuration file has no effect: --dir names the directory",
            )
            .at_path(path)
            .hint("remove `dir` from the file"));
        }
        Ok(config)
    }

    /// The sets a command works on: all of them, or those of `-p PACKAGE`.
    pub fn select(&self, package: Option<&str>) -> Result<Vec<&SetSpec>> {
        let Some(package) = package else {
            return Ok(self.sets.iter().collect());
        };
        let sets: Vec<&SetSpec> = self
            .sets
            .iter()
            .filter(|s| s.package.as_deref() == Some(package))
            .collect();
        if !sets.is_empty() {
            return Ok(sets);
        }
        if self.package(package).is_none() {
            return Err(self.unknown_package(package));
        }
        let manifest = self.package(package).map_or_else(
            || format!("package `{package}`"),
            |p| display_path(&p.manifest_path),
        );
        Err(Error::input(
            ErrorCode::NoMigrationSet,
            format!("package `{package}` has no migrations"),
        )
        .at(manifest)
        .hint(format!(
            "create its first one with `cargo migrate new -p {package} NAME`, or set `dir` in its [package.metadata.migrate]"
        )))
    }

    /// The one set a command works on.
    pub fn select_one(&self, package: Option<&str>) -> Result<&SetSpec> {
        let sets = self.select(package)?;
        match sets.as_slice() {
            [one] => Ok(one),
            [] => Err(Error::input(
                ErrorCode::NoMigrationSet,
                "no migration sets in this workspace",
            )
            .at(display_path(&self.root.join("Cargo.toml")))
            .hint("create one with `cargo migrate new NAME` in a package, or pass --dir PATH")),
            several => Err(Error::input(
                ErrorCode::AmbiguousSet,
                format!(
                    "this workspace has {} migration sets: {}",
                    several.len(),
                    several
                        .iter()
                        .map(|s| format!(
                            "{} ({})",
                            s.label(&self.root),
                            relative_to(&s.dir, &self.root)
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .at(display_path(&self.root.join("Cargo.toml")))
            .hint("pick one with -p/--package NAME (or --dir PATH)")),
        }
    }

    pub fn package(&self, name: &str) -> Option<&PackageInfo> {
        self.packages.iter().find(|p| p.name == name)
    }

    pub fn unknown_package(&self, name: &str) -> Error {
        let names: Vec<&str> = self.packages.iter().map(|p| p.name.as_str()).collect();
        Error::input(
            ErrorCode::UnknownPackage,
            format!("package `{name}` is not in this workspace"),
        )
        .at(display_path(&self.root.join("Cargo.toml")))
        .hint(format!("workspace packages: {}", names.join(", ")))
    }

    /// `path` relative to the workspace root, with `/` separators.
    pub fn relative(&self, path: &Path) -> String {
        relative_to(path, &self.root)
    }
}

pub fn relative_to(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .replace('\\', "/")
}

fn cargo_metadata(manifest_path: Option<&Path>) -> Result<Metadata> {
    let mut command = MetadataCommand::new();
    command.no_deps();
    if let Some(path) = manifest_path {
        if path.file_name().and_then(|n| n.to_str()) != Some("Cargo.toml") {
            return Err(Error::input(
                ErrorCode::BadManifestPath,
                "--manifest-path must point to a Cargo.toml",
            )
            .at_path(path)
            .hint("pass the path of a Cargo.toml, e.g. --manifest-path crates/app/Cargo.toml"));
        }
        if !path.is_file() {
            return Err(
                Error::input(ErrorCode::BadManifestPath, "--manifest-path does not exist")
                    .at_path(path)
                    .hint("check the path"),
            );
        }
        command.manifest_path(path);
    }
    command.exec().map_err(|err| match err {
        cargo_metadata::Error::CargoMetadata { stderr } => {
            let (message, cause) = summarize_cargo_error(&stderr);
            let not_found = message.contains("could not find `Cargo.toml`");
            Error::input(ErrorCode::CargoMetadataFailed, format!("cargo metadata failed: {message}"))
                .at(cause.unwrap_or_else(|| {
                    std::env::current_dir().map_or_else(|_| ".".into(), |d| display_path(&d))
                }))
                .hint(if not_found {
                    "run inside a Cargo workspace, pass --manifest-path, or use --dir PATH --dialect DIALECT"
                } else {
                    "fix the Cargo.toml; `cargo metadata --no-deps` shows the full error"
                })
        }
        other => Error::input(ErrorCode::CargoMetadataFailed, format!("cannot run cargo metadata: {other}"))
            .hint("check that `cargo` is on PATH (or set CARGO)"),
    })
}

/// Cargo's first `error:` line, and where it points: its ` --> file:line:col` line, else the
/// innermost `Caused by:` line.
fn summarize_cargo_error(stderr: &str) -> (String, Option<String>) {
    let mut lines = stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    let message = lines
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or("unknown error")
        .to_string();
    let pointer = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("--> "))
        .map(str::to_string);
    let cause = stderr
        .split("Caused by:")
        .skip(1)
        .last()
        .and_then(|tail| tail.lines().map(str::trim).find(|l| !l.is_empty()))
        .map(str::to_string);
    (message, pointer.or(cause))
}

fn from_metadata(metadata: &Metadata, dialect_flag: Option<Dialect>) -> Result<Workspace> {
    let root: PathBuf = metadata.workspace_root.clone().into();
    let root_manifest = root.join("Cargo.toml");
    let config = match metadata.workspace_metadata.get("migrate") {
        Some(value) => {
            MigrateConfig::parse(value, "[workspace.metadata.migrate]", &root_manifest, &root)?
        }
        None => MigrateConfig::default(),
    };

    let mut packages = Vec::new();
    let mut sets = Vec::new();
    let mut members: Vec<&Package> = metadata.workspace_packages();
    members.sort_by(|a, b| a.manifest_path.cmp(&b.manifest_path));
    for package in members {
        let manifest: PathBuf = package.manifest_path.clone().into();
        let package_root = manifest.parent().unwrap_or(&root).to_path_buf();
        let migrate = package.metadata.get("migrate");
        let own = match migrate {
            Some(value) => MigrateConfig::parse(
                value,
                "[package.metadata.migrate]",
                &manifest,
                &package_root,
            )?,
            None => MigrateConfig::default(),
        };
        let configured_dir = own.dir.clone();
        let merged = own.or(&config);
        let inferred = dialect_from_dependencies(package);
        // Dev-dependencies do not decide: a crate testing against sqlx does not load with it.
        let library = Library::from_dependency_names(
            package
                .dependencies
                .iter()
                .filter(|d| d.kind != cargo_metadata::DependencyKind::Development)
                .map(|d| d.name.as_str()),
        );
        let info = PackageInfo {
            name: package.name.to_string(),
            manifest_path: manifest.clone(),
            config: merged.clone(),
            inferred_dialect: inferred,
            library,
        };
        // A package owns a set when it configures one or has a `migrations/` directory.
        let dir = configured_dir.unwrap_or_else(|| package_root.join("migrations"));
        if migrate.is_some() || dir.is_dir() {
            sets.push(SetSpec {
                package: Some(info.name.clone()),
                manifest_path: Some(manifest),
                dialect: resolve_dialect(dialect_flag, merged.dialect, inferred, &dir),
                dir,
                config: merged,
                library,
            });
        }
        packages.push(info);
    }

    // The workspace root's own set: `dir` in [workspace.metadata.migrate], or `migrations/`.
    let root_dir = config
        .dir
        .clone()
        .unwrap_or_else(|| root.join("migrations"));
    let owned = sets.iter().any(|s| same_dir(&s.dir, &root_dir));
    if !owned && (config.dir.is_some() || root_dir.is_dir()) {
        sets.push(SetSpec {
            package: None,
            manifest_path: Some(root_manifest),
            dialect: resolve_dialect(dialect_flag, config.dialect, None, &root_dir),
            dir: root_dir,
            config: config.clone(),
            library: None,
        });
    }
    sets.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(Workspace {
        root,
        config,
        packages,
        sets,
    })
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The dialect from the first source that has one: flag, configuration, dependencies, the
/// directory's name.
pub fn resolve_dialect(
    flag: Option<Dialect>,
    configured: Option<Dialect>,
    inferred: Option<Dialect>,
    dir: &Path,
) -> Option<(Dialect, DialectSource)> {
    flag.map(|d| (d, DialectSource::Flag))
        .or(configured.map(|d| (d, DialectSource::Config)))
        .or(inferred.map(|d| (d, DialectSource::Dependencies)))
        .or_else(|| dialect_from_dir_name(dir).map(|d| (d, DialectSource::DirectoryName)))
}

/// The dialect a package's database crates point to, when they point to exactly one.
fn dialect_from_dependencies(package: &Package) -> Option<Dialect> {
    let mut found = Vec::new();
    for dependency in &package.dependencies {
        let features = |names: &[&str]| {
            dependency
                .features
                .iter()
                .any(|f| names.contains(&f.as_str()))
        };
        let by_name = match dependency.name.as_str() {
            "tokio-postgres" | "postgres" | "deadpool-postgres" | "bb8-postgres"
            | "r2d2_postgres" => Some(Dialect::Postgres),
            "rusqlite" | "libsqlite3-sys" => Some(Dialect::Sqlite),
            "mysql" | "mysql_async" => Some(Dialect::Mysql),
            _ => None,
        };
        found.extend(by_name);
        if matches!(
            dependency.name.as_str(),
            "sqlx" | "diesel" | "sea-orm" | "diesel-async"
        ) {
            if features(&["postgres", "postgres_backend", "sqlx-postgres"]) {
                found.push(Dialect::Postgres);
            }
            if features(&[
                "sqlite",
                "sqlite-unbundled",
                "returning_clauses_for_sqlite_3_35",
                "sqlx-sqlite",
            ]) {
                found.push(Dialect::Sqlite);
            }
            if features(&["mysql", "mysql_backend", "sqlx-mysql"]) {
                found.push(Dialect::Mysql);
            }
        }
    }
    found.sort();
    found.dedup();
    match found.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// vaultwarden-style trees name the dialect: `migrations/postgresql`, `migrations/sqlite`.
fn dialect_from_dir_name(dir: &Path) -> Option<Dialect> {
    dir.file_name()?.to_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_error_summary_keeps_the_first_error_and_innermost_cause() {
        let stderr = "error: failed to parse manifest at `/w/Cargo.toml`\n\nCaused by:\n  TOML parse error at line 3\n";
        let (message, cause) = summarize_cargo_error(stderr);
        assert_eq!(message, "failed to parse manifest at `/w/Cargo.toml`");
        assert_eq!(cause.as_deref(), Some("TOML parse error at line 3"));
    }

    #[test]
    fn cargo_error_summary_keeps_cargos_pointer() {
        let stderr = "error: invalid basic string, expected `\"`\n --> Cargo.toml:3:17\n  |\n3 | version = \"0.1.0\n";
        let (message, location) = summarize_cargo_error(stderr);
        assert_eq!(message, "invalid basic string, expected `\"`");
        assert_eq!(location.as_deref(), Some("Cargo.toml:3:17"));
    }

    #[test]
    fn library_from_dependency_names() {
        let library = |names: &[&str]| Library::from_dependency_names(names.iter().copied());
        assert_eq!(library(&["serde", "sqlx"]), Some(Library::Sqlx));
        assert_eq!(library(&["diesel"]), Some(Library::Diesel));
        assert_eq!(
            library(&["diesel", "diesel_migrations"]),
            Some(Library::Diesel)
        );
        assert_eq!(library(&["diesel-async"]), Some(Library::Diesel));
        // Both, or neither: the project's own layout.
        assert_eq!(library(&["sqlx", "diesel"]), None);
        assert_eq!(library(&["rusqlite", "tokio-postgres"]), None);
        assert_eq!(library(&[]), None);
    }

    #[test]
    fn dialect_from_directory_names() {
        assert_eq!(
            dialect_from_dir_name(Path::new("m/postgresql")),
            Some(Dialect::Postgres)
        );
        assert_eq!(
            dialect_from_dir_name(Path::new("m/sqlite")),
            Some(Dialect::Sqlite)
        );
        assert_eq!(dialect_from_dir_name(Path::new("migrations")), None);
    }

    #[test]
    fn flag_beats_config_beats_dependencies_beats_directory_name() {
        let dir = Path::new("m/sqlite");
        assert_eq!(
            resolve_dialect(Some(Dialect::Mysql), Some(Dialect::Postgres), None, dir),
            Some((Dialect::Mysql, DialectSource::Flag))
        );
        assert_eq!(
            resolve_dialect(None, Some(Dialect::Postgres), Some(Dialect::Mysql), dir),
            Some((Dialect::Postgres, DialectSource::Config))
        );
        assert_eq!(
            resolve_dialect(None, None, Some(Dialect::Mysql), dir),
            Some((Dialect::Mysql, DialectSource::Dependencies))
        );
        assert_eq!(
            resolve_dialect(None, None, None, dir),
            Some((Dialect::Sqlite, DialectSource::DirectoryName))
        );
    }
}
