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
        let migrations = migration::scan(
            &self.dir,
            &ScanOptions {
                ignore: self.config.ignore.clone(),
                default_layout: self.config.layout.or(self.library.map(Library::layout)),
                dir_mode: self.manifest_path.is_none(),
                flyway: self.config.flyway.clone().unwrap_or_default(),
                subfolders: self.config.subfolders.clone(),
            },
        )?;
        if let Some(dialect) = self.dialect() {
            migration::format::check_dialect(&self.dir, migrations.layout, dialect)?;
        }
        Ok(migrations)
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

/// What the command line asks for, as cargo reads it: `-p NAME` (repeatable), `--workspace`
/// with `--exclude NAME`, else the package of `--manifest-path`, else the package the current
/// directory is in, else (at a virtual workspace's root) every set.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    pub packages: Vec<String>,
    pub workspace: bool,
    pub exclude: Vec<String>,
    pub manifest_path: Option<PathBuf>,
    pub cwd: PathBuf,
}

/// How the sets were chosen, which decides whether a changing command may run for several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `-p` or `--workspace`: the user named what to change.
    Explicit,
    /// The package of the current directory or of `--manifest-path`.
    Current,
    /// Nothing named, outside every package (a virtual root): every set.
    Default,
}

/// The sets chosen, and the chosen packages that have none (`new` creates their first).
#[derive(Debug)]
pub struct Selection<'w> {
    pub sets: Vec<&'w SetSpec>,
    pub without_set: Vec<&'w PackageInfo>,
    pub scope: Scope,
}

impl<'w> Selection<'w> {
    fn take_package(&mut self, workspace: &'w Workspace, info: &'w PackageInfo) {
        let mut owns = false;
        for set in &workspace.sets {
            if set.package.as_deref() == Some(info.name.as_str()) {
                owns = true;
                if !self.sets.iter().any(|s| std::ptr::eq(*s, set)) {
                    self.sets.push(set);
                }
            }
        }
        if !owns && !self.without_set.iter().any(|p| p.name == info.name) {
            self.without_set.push(info);
        }
    }

    /// The sets, every chosen package having one.
    pub fn require_sets(self, workspace: &Workspace) -> Result<Vec<&'w SetSpec>> {
        if let Some(info) = self.without_set.first() {
            return Err(workspace.no_set(info));
        }
        if self.sets.is_empty() {
            return Err(workspace.no_sets());
        }
        Ok(self.sets)
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

    /// The sets a command works on, chosen as cargo chooses packages (see [`Selector`]).
    pub fn choose(&self, selector: &Selector) -> Result<Selection<'_>> {
        let mut selection = Selection {
            sets: Vec::new(),
            without_set: Vec::new(),
            scope: Scope::Default,
        };
        if !selector.exclude.is_empty() && !selector.workspace {
            return Err(Error::input(
                ErrorCode::Usage,
                "--exclude can only be used together with --workspace",
            )
            .at("command line, --exclude")
            .hint("add --workspace (alias --all) to run for every set but the excluded ones"));
        }
        if selector.workspace {
            for name in &selector.exclude {
                if self.package(name).is_none() {
                    return Err(self.unknown_package(name));
                }
            }
            selection.scope = Scope::Explicit;
            selection.sets = self
                .sets
                .iter()
                .filter(|s| {
                    s.package
                        .as_ref()
                        .is_none_or(|p| !selector.exclude.contains(p))
                })
                .collect();
            return Ok(selection);
        }
        if !selector.packages.is_empty() {
            selection.scope = Scope::Explicit;
            for name in &selector.packages {
                let info = self
                    .package(name)
                    .ok_or_else(|| self.unknown_package(name))?;
                selection.take_package(self, info);
            }
            return Ok(selection);
        }
        // No selection: the package of the manifest given, else of the current directory.
        let current = match &selector.manifest_path {
            Some(manifest) => self.package_of_manifest(manifest),
            None => None,
        }
        .or_else(|| match &selector.manifest_path {
            // `--manifest-path` at the workspace's root: the workspace, wherever the cwd is.
            Some(manifest) if self.is_root_manifest(manifest) => None,
            // A manifest outside the workspace cannot be, as cargo metadata resolved it.
            _ => self.package_containing(&selector.cwd),
        });
        if let Some(info) = current {
            let own_set = self
                .sets
                .iter()
                .any(|s| s.package.as_deref() == Some(info.name.as_str()));
            // The root package of a non-virtual workspace is "current" anywhere outside the
            // other members; when it owns no set, its members' sets are what the user means
            // (as before packages were chosen by directory).
            if own_set || !self.is_root_dir(info.root()) {
                selection.scope = Scope::Current;
                selection.take_package(self, info);
                return Ok(selection);
            }
        }
        selection.sets = self.sets.iter().collect();
        Ok(selection)
    }

    /// The member whose directory holds `dir`: the deepest, as members may nest.
    fn package_containing(&self, dir: &Path) -> Option<&PackageInfo> {
        let dir = canonical(dir);
        self.packages
            .iter()
            .filter(|p| dir.starts_with(canonical(p.root())))
            .max_by_key(|p| p.root().components().count())
    }

    fn package_of_manifest(&self, manifest: &Path) -> Option<&PackageInfo> {
        let manifest = canonical(manifest);
        self.packages
            .iter()
            .find(|p| canonical(&p.manifest_path) == manifest)
    }

    fn is_root_manifest(&self, manifest: &Path) -> bool {
        canonical(manifest) == canonical(&self.root.join("Cargo.toml"))
    }

    fn is_root_dir(&self, dir: &Path) -> bool {
        canonical(dir) == canonical(&self.root)
    }

    /// The one set a command works on, for commands that take exactly one (`db`).
    pub fn select_one(&self, selector: &Selector) -> Result<&SetSpec> {
        let sets = self.choose(selector)?.require_sets(self)?;
        match sets.as_slice() {
            [one] => Ok(one),
            several => {
                Err(self.ambiguous(several, "pick one with -p/--package NAME (or --dir PATH)"))
            }
        }
    }

    /// Several sets where one is needed.
    pub fn ambiguous(&self, several: &[&SetSpec], hint: &str) -> Error {
        Error::input(
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
        .hint(hint.to_string())
    }

    /// Nothing selected has a set.
    pub fn no_sets(&self) -> Error {
        Error::input(
            ErrorCode::NoMigrationSet,
            "no migration sets in this workspace",
        )
        .at(display_path(&self.root.join("Cargo.toml")))
        .hint("create one with `cargo migrate new NAME` in a package, or pass --dir PATH")
    }

    fn no_set(&self, info: &PackageInfo) -> Error {
        let package = &info.name;
        Error::input(
            ErrorCode::NoMigrationSet,
            format!("package `{package}` has no migrations"),
        )
        .at(display_path(&info.manifest_path))
        .hint(format!(
            "create its first one with `cargo migrate new -p {package} NAME`, or set `dir` in its [package.metadata.migrate]"
        ))
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

/// `path` with symlinks resolved when it exists (a temp dir under a symlinked /tmp, a cwd
/// reached through a link), else as given.
fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
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

    /// A virtual workspace at /ws (paths that do not exist: nothing is read): `api` and
    /// `shop` own sets, `jobs` has none, `api/plugins/auth` is a nested member with a set.
    fn fake_workspace(root_package: bool) -> Workspace {
        let root = PathBuf::from("/ws");
        let mut names = vec!["api", "api/plugins/auth", "jobs", "shop"];
        if root_package {
            names.push("");
        }
        let packages: Vec<PackageInfo> = names
            .iter()
            .map(|dir| PackageInfo {
                name: if dir.is_empty() {
                    "app".to_string()
                } else {
                    dir.rsplit('/').next().unwrap_or(dir).to_string()
                },
                manifest_path: root.join(dir).join("Cargo.toml"),
                config: MigrateConfig::default(),
                inferred_dialect: None,
                library: None,
            })
            .collect();
        let sets = packages
            .iter()
            .filter(|p| p.name != "jobs" && p.name != "app")
            .map(|p| SetSpec {
                package: Some(p.name.clone()),
                manifest_path: Some(p.manifest_path.clone()),
                dir: p.root().join("migrations"),
                config: MigrateConfig::default(),
                dialect: None,
                library: None,
            })
            .collect();
        Workspace {
            root,
            config: MigrateConfig::default(),
            packages,
            sets,
        }
    }

    #[test]
    fn which_sets_a_command_line_selects() {
        // (cwd, --manifest-path, -p, --workspace, --exclude) → (sets, packages without, scope)
        type Row<'a> = (
            &'a str,
            Option<&'a str>,
            &'a [&'a str],
            bool,
            &'a [&'a str],
            Result<(&'a [&'a str], &'a [&'a str], Scope), ErrorCode>,
        );
        let all: &[&str] = &["api", "auth", "shop"];
        let rows: &[Row] = &[
            // At the virtual root, or outside every member: every set, by default.
            ("/ws", None, &[], false, &[], Ok((all, &[], Scope::Default))),
            (
                "/ws/docs",
                None,
                &[],
                false,
                &[],
                Ok((all, &[], Scope::Default)),
            ),
            // Inside a member, or below it: that member.
            (
                "/ws/shop",
                None,
                &[],
                false,
                &[],
                Ok((&["shop"], &[], Scope::Current)),
            ),
            (
                "/ws/shop/src/bin",
                None,
                &[],
                false,
                &[],
                Ok((&["shop"], &[], Scope::Current)),
            ),
            // A member without a set is still the one meant (never another crate's set).
            (
                "/ws/jobs/src",
                None,
                &[],
                false,
                &[],
                Ok((&[], &["jobs"], Scope::Current)),
            ),
            // Nested members: the deepest.
            (
                "/ws/api/plugins/auth/src",
                None,
                &[],
                false,
                &[],
                Ok((&["auth"], &[], Scope::Current)),
            ),
            (
                "/ws/api/src",
                None,
                &[],
                false,
                &[],
                Ok((&["api"], &[], Scope::Current)),
            ),
            // A directory whose name merely starts like a member's is not inside it.
            (
                "/ws/shopfront",
                None,
                &[],
                false,
                &[],
                Ok((all, &[], Scope::Default)),
            ),
            // --manifest-path: the member it names, or the workspace; it beats the cwd.
            (
                "/elsewhere",
                Some("/ws/shop/Cargo.toml"),
                &[],
                false,
                &[],
                Ok((&["shop"], &[], Scope::Current)),
            ),
            (
                "/ws/shop",
                Some("/ws/Cargo.toml"),
                &[],
                false,
                &[],
                Ok((all, &[], Scope::Default)),
            ),
            // -p, repeatable; it beats the cwd.
            (
                "/ws/shop",
                None,
                &["api"],
                false,
                &[],
                Ok((&["api"], &[], Scope::Explicit)),
            ),
            (
                "/ws",
                None,
                &["shop", "api", "shop"],
                false,
                &[],
                Ok((&["shop", "api"], &[], Scope::Explicit)),
            ),
            (
                "/ws",
                None,
                &["jobs"],
                false,
                &[],
                Ok((&[], &["jobs"], Scope::Explicit)),
            ),
            (
                "/ws",
                None,
                &["nosuch"],
                false,
                &[],
                Err(ErrorCode::UnknownPackage),
            ),
            // --workspace, with --exclude.
            (
                "/ws/shop",
                None,
                &[],
                true,
                &[],
                Ok((all, &[], Scope::Explicit)),
            ),
            (
                "/ws",
                None,
                &[],
                true,
                &["api", "auth"],
                Ok((&["shop"], &[], Scope::Explicit)),
            ),
            (
                "/ws",
                None,
                &[],
                true,
                &["nosuch"],
                Err(ErrorCode::UnknownPackage),
            ),
            ("/ws", None, &[], false, &["api"], Err(ErrorCode::Usage)),
        ];
        let workspace = fake_workspace(false);
        for (cwd, manifest, packages, whole, exclude, expected) in rows {
            let selector = Selector {
                packages: packages.iter().map(|p| p.to_string()).collect(),
                workspace: *whole,
                exclude: exclude.iter().map(|p| p.to_string()).collect(),
                manifest_path: manifest.map(PathBuf::from),
                cwd: PathBuf::from(cwd),
            };
            let got = workspace.choose(&selector).map(|s| {
                (
                    s.sets
                        .iter()
                        .map(|s| s.package.clone().unwrap_or_default())
                        .collect::<Vec<_>>(),
                    s.without_set
                        .iter()
                        .map(|p| p.name.clone())
                        .collect::<Vec<_>>(),
                    s.scope,
                )
            });
            let context = format!(
                "cwd {cwd}, manifest {manifest:?}, -p {packages:?}, --workspace {whole}, --exclude {exclude:?}"
            );
            match (got, expected) {
                (Ok((sets, without, scope)), Ok((want_sets, want_without, want_scope))) => {
                    assert_eq!(sets, *want_sets, "{context}");
                    assert_eq!(without, *want_without, "{context}");
                    assert_eq!(scope, *want_scope, "{context}");
                }
                (Err(err), Err(code)) => assert_eq!(err.code, *code, "{context}"),
                (got, _) => panic!("{context}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn a_root_package_without_a_set_leaves_the_choice_to_the_workspace() {
        // `cargo migrate status` at a non-virtual root whose package owns no set: its members'
        // sets, as before packages were chosen by directory; inside a member, that member.
        let workspace = fake_workspace(true);
        let at = |cwd: &str| {
            let selector = Selector {
                cwd: PathBuf::from(cwd),
                ..Selector::default()
            };
            let selection = workspace.choose(&selector).expect("selects");
            (selection.sets.len(), selection.scope)
        };
        assert_eq!(at("/ws"), (3, Scope::Default));
        assert_eq!(at("/ws/src"), (3, Scope::Default));
        assert_eq!(at("/ws/shop"), (1, Scope::Current));
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
