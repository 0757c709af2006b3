//! `[workspace.metadata.migrate]` and `[package.metadata.migrate]`: parsing, validation and
//! merging. Each key is parsed on its own so an error names the key and the Cargo.toml.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode, Result, display_path};
use crate::migration::Layout;

/// The keys cargo-migrate reads, with what each one holds (shown in errors and `docs/`).
pub const KEYS: &[(&str, &str)] = &[
    (
        "dir",
        "the migrations directory, relative to the package (or workspace) root",
    ),
    ("dialect", "one of postgres, sqlite or mysql"),
    (
        "layout",
        "the set's layout: directory, sqlx, drizzle, dbmate, goose, prisma, flyway, golang-migrate or refinery (detected from the files when not set)",
    ),
    (
        "history",
        "whose history table to keep: cargo-migrate, sqlx, diesel, drizzle, dbmate, goose, prisma, flyway, golang-migrate or refinery",
    ),
    (
        "history-table",
        "the history table's name, e.g. _cargo_migrate or app.history",
    ),
    (
        "templates",
        "a directory of templates that add to or override the built-in ones",
    ),
    (
        "flyway",
        "a table of Flyway's name parts: prefix, undo-prefix, repeatable-prefix, separator",
    ),
    (
        "subfolders",
        "a history split into numbered sub-folders: the pattern (* wildcards) of their names, e.g. \"*\" for 1/, 2/",
    ),
    (
        "schema",
        "the wanted schema: an SQL file or a directory of them, which `new NAME` writes the migration to",
    ),
    (
        "schema-file",
        "the history's schema as committed text, written by `schema --write` and compared by `schema --check` and `check`",
    ),
    (
        "image",
        "the Docker image for disposable databases, e.g. postgres:17",
    ),
    (
        "sandbox",
        "the disposable database used without a URL: auto, docker, local or sqlite",
    ),
    (
        "database-url-env",
        "the environment variable with the database URL, e.g. APP_DATABASE_URL",
    ),
    (
        "direct-url-env",
        "an environment variable with a direct URL (not through a pooler) that is preferred when set, e.g. DIRECT_DATABASE_URL",
    ),
    (
        "ignore",
        "a list of file names (* wildcards) in the migrations directory that are not migrations",
    ),
    (
        "safety",
        "deploy-safety settings: `since` (the git ref new migrations count from) and `severity` (a table of finding code = error, warning or off)",
    ),
];

/// Whose history table a set keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryKind {
    /// `_cargo_migrate` (or `history-table`).
    Own,
    /// `_sqlx_migrations`, as `sqlx::migrate!()` keeps it.
    Sqlx,
    /// `__diesel_schema_migrations`, as `diesel migration run` keeps it.
    Diesel,
    /// `drizzle.__drizzle_migrations`, as drizzle-orm's migrator keeps it.
    Drizzle,
    /// `schema_migrations`, as dbmate keeps it.
    Dbmate,
    /// `goose_db_version`, as goose keeps it.
    Goose,
    /// `_prisma_migrations`, as `prisma migrate deploy` keeps it.
    Prisma,
    /// `flyway_schema_history`, as Flyway keeps it.
    Flyway,
    /// `schema_migrations (version, dirty)`, as golang-migrate keeps it.
    GolangMigrate,
    /// `refinery_schema_history`, as refinery keeps it.
    Refinery,
}

impl std::str::FromStr for HistoryKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "cargo-migrate" | "own" => Ok(HistoryKind::Own),
            "sqlx" => Ok(HistoryKind::Sqlx),
            "diesel" => Ok(HistoryKind::Diesel),
            "drizzle" => Ok(HistoryKind::Drizzle),
            "dbmate" => Ok(HistoryKind::Dbmate),
            "goose" => Ok(HistoryKind::Goose),
            "prisma" => Ok(HistoryKind::Prisma),
            "flyway" => Ok(HistoryKind::Flyway),
            "golang-migrate" => Ok(HistoryKind::GolangMigrate),
            "refinery" => Ok(HistoryKind::Refinery),
            _ => Err(format!(
                "unknown history `{text}`; expected cargo-migrate, sqlx, diesel, drizzle, dbmate, goose, prisma, flyway, golang-migrate or refinery"
            )),
        }
    }
}

/// Settings from one `metadata.migrate` table; every field optional so tables can be merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrateConfig {
    pub dir: Option<PathBuf>,
    pub dialect: Option<Dialect>,
    pub layout: Option<Layout>,
    pub history: Option<HistoryKind>,
    pub history_table: Option<String>,
    pub templates: Option<PathBuf>,
    /// `schema`: the wanted schema's SQL file or directory, for `new`.
    pub schema: Option<PathBuf>,
    /// `schema-file`: the committed rendering of the history's schema.
    pub schema_file: Option<PathBuf>,
    pub image: Option<String>,
    pub sandbox: Option<crate::sandbox::SandboxKind>,
    pub database_url_env: Option<String>,
    /// An environment variable whose URL, when set, is used instead of the database URL's:
    /// a direct connection to the server where `DATABASE_URL` leads to a pooler (Prisma's
    /// `directUrl`).
    pub direct_url_env: Option<String>,
    pub ignore: Vec<String>,
    /// `safety`: what `lint` and `check`'s safety step look at and how loud each code is.
    pub safety: crate::safety::SafetyConfig,
    pub flyway: Option<crate::migration::layout::flyway::Names>,
    /// `subfolders`: the set's migrations live in sub-folders whose names match this pattern.
    pub subfolders: Option<String>,
}

impl MigrateConfig {
    /// Parses a `metadata.migrate` value. `table` names it in errors (e.g.
    /// `[package.metadata.migrate]`); relative paths are resolved against `base`.
    pub fn parse(value: &Value, table: &str, manifest: &Path, base: &Path) -> Result<Self> {
        let at = || format!("{}: {table}", display_path(manifest));
        let Value::Object(entries) = value else {
            return Err(Error::input(
                ErrorCode::BadConfig,
                format!("{table} must be a table, found {}", json_kind(value)),
            )
            .at(at())
            .hint("write it as a TOML table, e.g. `[package.metadata.migrate]` with `dialect = \"postgres\"`"));
        };
        let mut config = MigrateConfig::default();
        for (key, value) in entries {
            let bad_value = |expected: &str| {
                Error::input(
                    ErrorCode::BadConfig,
                    format!(
                        "`{key}` in {table} must be {expected}, found {}",
                        json_kind(value)
                    ),
                )
                .at(at())
                .hint(key_hint(key))
            };
            let text = || value.as_str().ok_or_else(|| bad_value("a string"));
            match key.as_str() {
                "dir" => config.dir = Some(base.join(non_empty(text()?, key, table, &at)?)),
                "templates" => {
                    config.templates = Some(base.join(non_empty(text()?, key, table, &at)?))
                }
                "schema" => config.schema = Some(base.join(non_empty(text()?, key, table, &at)?)),
                "schema-file" => {
                    config.schema_file = Some(base.join(non_empty(text()?, key, table, &at)?))
                }
                "dialect" => {
                    config.dialect = Some(text()?.parse().map_err(|reason: String| {
                        Error::input(
                            ErrorCode::BadConfig,
                            format!("`dialect` in {table}: {reason}"),
                        )
                        .at(at())
                        .hint(key_hint(key))
                    })?)
                }
                "layout" => {
                    config.layout = Some(text()?.parse().map_err(|reason: String| {
                        Error::input(
                            ErrorCode::BadConfig,
                            format!("`layout` in {table}: {reason}"),
                        )
                        .at(at())
                        .hint(key_hint(key))
                    })?)
                }
                "history" => {
                    config.history = Some(text()?.parse().map_err(|reason: String| {
                        Error::input(
                            ErrorCode::BadConfig,
                            format!("`history` in {table}: {reason}"),
                        )
                        .at(at())
                        .hint(key_hint(key))
                    })?)
                }
                "history-table" => {
                    let name = text()?;
                    if !is_identifier(name) {
                        return Err(Error::input(
                            ErrorCode::BadConfig,
                            format!(
                                "`history-table` in {table} is not a plain table name: `{name}`"
                            ),
                        )
                        .at(at())
                        .hint("use letters, digits and underscores, optionally `schema.table`"));
                    }
                    if let Some((schema, _)) = name
                        .split_once('.')
                        .filter(|(schema, _)| crate::db::history::is_system_schema(schema))
                    {
                        // `reset` keeps the system schemas, so a history there would outlive
                        // what it records (and their contents belong to the server).
                        return Err(Error::input(
                            ErrorCode::BadConfig,
                            format!(
                                "`history-table` in {table} is in `{schema}`, a system schema: `{name}`"
                            ),
                        )
                        .at(at())
                        .hint("keep the history in a schema of your own (e.g. `app._cargo_migrate`), or leave out the schema"));
                    }
                    config.history_table = Some(name.to_string());
                }
                "image" => {
                    let image = non_empty(text()?, key, table, &at)?;
                    if !is_image_reference(image) {
                        return Err(Error::input(
                            ErrorCode::BadConfig,
                            format!("`image` in {table} is not a Docker image reference: `{image}`"),
                        )
                        .at(at())
                        .hint("write it as name:tag, e.g. postgres:17 or registry.example.com/team/postgres:17-alpine"));
                    }
                    config.image = Some(image.to_string());
                }
                "sandbox" => {
                    config.sandbox = Some(text()?.parse().map_err(|reason: String| {
                        Error::input(
                            ErrorCode::BadConfig,
                            format!("`sandbox` in {table}: {reason}"),
                        )
                        .at(at())
                        .hint(key_hint(key))
                    })?)
                }
                "database-url-env" => {
                    let name = text()?;
                    if !is_env_var_name(name) {
                        return Err(Error::input(
                            ErrorCode::BadConfig,
                            format!("`database-url-env` in {table} is not an environment variable name: `{name}`"),
                        )
                        .at(at())
                        .hint("use letters, digits and underscores, e.g. APP_DATABASE_URL"));
                    }
                    config.database_url_env = Some(name.to_string());
                }
                "direct-url-env" => {
                    let name = text()?;
                    if !is_env_var_name(name) {
                        return Err(Error::input(
                            ErrorCode::BadConfig,
                            format!("`direct-url-env` in {table} is not an environment variable name: `{name}`"),
                        )
                        .at(at())
                        .hint("use letters, digits and underscores, e.g. DIRECT_DATABASE_URL"));
                    }
                    config.direct_url_env = Some(name.to_string());
                }
                "ignore" => {
                    let list = value
                        .as_array()
                        .ok_or_else(|| bad_value("a list of strings"))?;
                    config.ignore = list
                        .iter()
                        .map(|item| item.as_str().map(str::to_string))
                        .collect::<Option<_>>()
                        .ok_or_else(|| bad_value("a list of strings"))?;
                }
                "safety" => {
                    config.safety = crate::safety::SafetyConfig::parse(value).map_err(|reason| {
                        Error::input(ErrorCode::BadConfig, format!("{reason} in {table}"))
                            .at(at())
                            .hint(key_hint(key))
                    })?
                }
                "flyway" => {
                    config.flyway = Some(
                        crate::migration::layout::flyway::Names::parse(value).map_err(
                            |reason| {
                                Error::input(
                                    ErrorCode::BadConfig,
                                    format!("`flyway` in {table}: {reason}"),
                                )
                                .at(at())
                                .hint(key_hint(key))
                            },
                        )?,
                    )
                }
                "subfolders" => {
                    let pattern = text()?;
                    if pattern.is_empty() || pattern.contains(['/', '\\']) {
                        return Err(Error::input(
                            ErrorCode::BadConfig,
                            format!("`subfolders` in {table} must be a folder name pattern, not a path: `{pattern}`"),
                        )
                        .at(at())
                        .hint(key_hint(key)));
                    }
                    config.subfolders = Some(pattern.to_string());
                }
                unknown => return Err(unknown_key(unknown, table, at())),
            }
        }
        Ok(config)
    }

    /// `self` with every unset key taken from `defaults`. `dir` is never inherited: a
    /// workspace-level `dir` names the workspace's own set, not every package's.
    pub fn or(self, defaults: &MigrateConfig) -> MigrateConfig {
        MigrateConfig {
            dir: self.dir,
            dialect: self.dialect.or(defaults.dialect),
            layout: self.layout.or(defaults.layout),
            history: self.history.or(defaults.history),
            history_table: self
                .history_table
                .or_else(|| defaults.history_table.clone()),
            templates: self.templates.or_else(|| defaults.templates.clone()),
            // Like `dir`, the wanted schema and the committed one are the set's own.
            schema: self.schema,
            schema_file: self.schema_file,
            image: self.image.or_else(|| defaults.image.clone()),
            sandbox: self.sandbox.or(defaults.sandbox),
            database_url_env: self
                .database_url_env
                .or_else(|| defaults.database_url_env.clone()),
            direct_url_env: self
                .direct_url_env
                .or_else(|| defaults.direct_url_env.clone()),
            ignore: if self.ignore.is_empty() {
                defaults.ignore.clone()
            } else {
                self.ignore
            },
            safety: self.safety.or(&defaults.safety),
            flyway: self.flyway.or_else(|| defaults.flyway.clone()),
            subfolders: self.subfolders.or_else(|| defaults.subfolders.clone()),
        }
    }
}

/// The table [`record_dialect`] writes into.
pub const PACKAGE_TABLE: &str = "[package.metadata.migrate]";

/// Writes `dialect = "…"` into `[package.metadata.migrate]` of `manifest`, creating the table
/// if needed and keeping the rest of the file as written (formatting, comments, key order).
/// The file is replaced in one rename, so a failure leaves it as it was.
pub fn record_dialect(manifest: &Path, dialect: Dialect) -> Result<()> {
    let unwritable =
        |action: &str, err: &std::io::Error| Error::io(ErrorCode::BadConfig, action, manifest, err);
    let text = std::fs::read_to_string(manifest).map_err(|e| unwritable("read", &e))?;
    let updated = with_dialect(&text, dialect).map_err(|reason| {
        Error::input(
            ErrorCode::BadConfig,
            format!("cannot record the dialect: {reason}"),
        )
        .at(format!("{}: {PACKAGE_TABLE}", display_path(manifest)))
        .hint(format!(
            "add `dialect = \"{}\"` to {PACKAGE_TABLE} by hand",
            dialect.as_str(),
        ))
    })?;
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| unwritable("write", &e))?;
    std::io::Write::write_all(&mut temp, updated.as_bytes())
        .map_err(|e| unwritable("write", &e))?;
    // The temporary file is created private; the manifest keeps its own permissions.
    if let Ok(metadata) = std::fs::metadata(manifest) {
        let _ = std::fs::set_permissions(temp.path(), metadata.permissions());
    }
    temp.persist(manifest)
        .map_err(|e| unwritable("write", &e.error))?;
    Ok(())
}

/// `text` (a Cargo.toml) with `dialect` set in `[package.metadata.migrate]`. Pure, for tests.
fn with_dialect(text: &str, dialect: Dialect) -> std::result::Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| e.message().to_string())?;
    let mut current = doc.as_table_mut() as &mut dyn toml_edit::TableLike;
    for (depth, key) in ["package", "metadata", "migrate"].into_iter().enumerate() {
        if current.get(key).is_none() {
            let mut created = toml_edit::Table::new();
            // Only `[package.metadata.migrate]` is written as a header; the tables above it
            // exist implicitly, as Cargo.toml files usually spell it.
            created.set_implicit(depth < 2);
            current.insert(key, toml_edit::Item::Table(created));
        }
        current = current
            .get_mut(key)
            .and_then(toml_edit::Item::as_table_like_mut)
            .ok_or_else(|| format!("`{key}` on the way to {PACKAGE_TABLE} is not a table"))?;
    }
    current.insert("dialect", toml_edit::value(dialect.as_str()));
    Ok(doc.to_string())
}

fn non_empty<'a>(
    text: &'a str,
    key: &str,
    table: &str,
    at: &dyn Fn() -> String,
) -> Result<&'a str> {
    if text.trim().is_empty() {
        return Err(
            Error::input(ErrorCode::BadConfig, format!("`{key}` in {table} is empty"))
                .at(at())
                .hint(key_hint(key)),
        );
    }
    Ok(text)
}

/// What a key holds, as a hint: `dialect` holds postgres, sqlite or mysql.
fn key_hint(key: &str) -> String {
    match KEYS.iter().find(|(name, _)| *name == key) {
        Some((name, meaning)) => format!("`{name}` holds {meaning}"),
        None => format!("see docs/configuration.md for `{key}`"),
    }
}

fn unknown_key(key: &str, table: &str, at: String) -> Error {
    let known: Vec<&str> = KEYS.iter().map(|(name, _)| *name).collect();
    let hint = match closest(key, &known) {
        Some(suggestion) => format!(
            "did you mean `{suggestion}`? known keys: {}",
            known.join(", ")
        ),
        None => format!("known keys: {}", known.join(", ")),
    };
    Error::input(
        ErrorCode::UnknownConfigKey,
        format!("unknown key `{key}` in {table}"),
    )
    .at(at)
    .hint(hint)
}

/// The known word nearest to `word`, if it is close enough to be a typo.
fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let normalised = word.replace('_', "-").to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&normalised, k), *k))
        .filter(|(distance, k)| *distance <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

/// `name` or `schema.name`, each part `[A-Za-z_][A-Za-z0-9_]*`: safe to interpolate as an
/// identifier without quoting surprises.
pub fn is_identifier(name: &str) -> bool {
    let part = |p: &str| {
        let mut chars = p.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && p.len() <= 63
    };
    match name.split_once('.') {
        Some((schema, table)) => part(schema) && part(table),
        None => part(name),
    }
}

/// `[registry[:port]/]name[:tag][@digest]` as Docker spells it: no spaces or other
/// characters Docker refuses, a lowercase name, and no empty part.
fn is_image_reference(image: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._-/:@+=".contains(c);
    let (reference, digest) = match image.split_once('@') {
        Some((reference, digest)) => (reference, Some(digest)),
        None => (image, None),
    };
    // The tag is after the last `:` that follows the last `/` (a registry's port comes before).
    let last_part = reference.rsplit('/').next().unwrap_or(reference);
    let (name_end, tag) = match last_part.rsplit_once(':') {
        Some((_, tag)) => (reference.len() - tag.len() - 1, Some(tag)),
        None => (reference.len(), None),
    };
    let name = &reference[..name_end];
    image.chars().all(allowed)
        && !name.is_empty()
        && name.split('/').enumerate().all(|(index, part)| {
            // Only a registry (the first of several parts) may carry a `:port`.
            let part = match part.split_once(':') {
                Some((host, port))
                    if index == 0
                        && name.contains('/')
                        && !port.is_empty()
                        && port.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    host
                }
                _ => part,
            };
            part.starts_with(|c: char| c.is_ascii_alphanumeric())
                && !part.contains([':', '@', '+', '='])
        })
        && !name
            .rsplit('/')
            .next()
            .is_some_and(|repo| repo.chars().any(|c| c.is_ascii_uppercase()))
        && tag.is_none_or(|t| !t.is_empty() && !t.contains(['@', '+', '=']))
        && digest.is_none_or(|d| d.contains(':') && !d.ends_with(':'))
}

fn is_env_var_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_the_dialect_keeps_the_file_as_written() {
        let cases: &[(&str, &str)] = &[
            // No table yet: one header after [package], the rest untouched.
            (
                "# app\n[package]\nname    = \"app\"   # aligned\n\n[dependencies]\n",
                "# app\n[package]\nname    = \"app\"   # aligned\n\n[package.metadata.migrate]\ndialect = \"mysql\"\n\n[dependencies]\n",
            ),
            // An existing table gains the key after its others, comments kept.
            (
                "[package]\nname = \"app\"\n\n[package.metadata.migrate]\n# ours\ndir = \"db\"\n",
                "[package]\nname = \"app\"\n\n[package.metadata.migrate]\n# ours\ndir = \"db\"\ndialect = \"mysql\"\n",
            ),
            // A dotted spelling stays dotted.
            (
                "[package]\nname = \"app\"\nmetadata.migrate.dir = \"db\"\n",
                "[package]\nname = \"app\"\nmetadata.migrate.dir = \"db\"\nmetadata.migrate.dialect = \"mysql\"\n",
            ),
            // A package that is also the workspace root: still the package's table.
            (
                "[package]\nname = \"app\"\n\n[workspace]\n",
                "[package]\nname = \"app\"\n\n[package.metadata.migrate]\ndialect = \"mysql\"\n\n[workspace]\n",
            ),
        ];
        for (before, after) in cases {
            assert_eq!(
                with_dialect(before, Dialect::Mysql).unwrap(),
                *after,
                "{before}"
            );
        }
        let err = with_dialect("[package]\nmetadata = 3\n", Dialect::Mysql).unwrap_err();
        assert!(err.contains("`metadata`"), "{err}");
    }

    use serde_json::json;

    fn parse(value: Value) -> Result<MigrateConfig> {
        MigrateConfig::parse(
            &value,
            "[package.metadata.migrate]",
            Path::new("/w/Cargo.toml"),
            Path::new("/w"),
        )
    }

    #[test]
    fn parses_every_key() {
        let config = parse(json!({
            "dir": "db/migrations",
            "dialect": "postgresql",
            "layout": "sqlx",
            "history": "sqlx",
            "history-table": "app._migrations",
            "templates": "db/templates",
            "image": "postgres:17",
            "database-url-env": "APP_DATABASE_URL",
            "direct-url-env": "DIRECT_DATABASE_URL",
            "ignore": ["*.txt"],
        }))
        .unwrap();
        assert_eq!(
            config.direct_url_env.as_deref(),
            Some("DIRECT_DATABASE_URL")
        );
        assert_eq!(config.dir, Some(PathBuf::from("/w/db/migrations")));
        assert_eq!(config.dialect, Some(Dialect::Postgres));
        assert_eq!(config.layout, Some(Layout::Sqlx));
        assert_eq!(config.history, Some(HistoryKind::Sqlx));
        assert_eq!(config.history_table.as_deref(), Some("app._migrations"));
        assert_eq!(config.ignore, ["*.txt"]);
    }

    #[test]
    fn unknown_key_suggests_the_nearest() {
        let err = parse(json!({"dirr": "x"})).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownConfigKey);
        assert_eq!(
            err.message,
            "unknown key `dirr` in [package.metadata.migrate]"
        );
        assert!(err.hint.unwrap().starts_with("did you mean `dir`?"));
        let err = parse(json!({"history_table": "x"})).unwrap_err();
        assert!(
            err.hint
                .unwrap()
                .starts_with("did you mean `history-table`?")
        );
        let err = parse(json!({"colour": "x"})).unwrap_err();
        assert!(err.hint.unwrap().starts_with("known keys:"));
    }

    #[test]
    fn wrong_types_and_values_name_the_key() {
        let err = parse(json!({"dialect": 3})).unwrap_err();
        assert_eq!(
            err.message,
            "`dialect` in [package.metadata.migrate] must be a string, found a number"
        );
        let err = parse(json!({"dialect": "oracle"})).unwrap_err();
        assert!(err.message.contains("unknown dialect `oracle`"));
        let err = parse(json!({"history-table": "drop table x"})).unwrap_err();
        assert!(err.message.contains("not a plain table name"));
        for (name, refused) in [
            ("information_schema.migrations", true),
            ("pg_catalog.history", true),
            ("pg_toast.history", true),
            ("PG_TEMP_1.history", true),
            ("app.history", false),
            ("public._cargo_migrate", false),
            ("pg_history", false),
        ] {
            let result = parse(json!({ "history-table": name }));
            assert_eq!(result.is_err(), refused, "{name}");
            if let Err(err) = result {
                assert_eq!(err.code, ErrorCode::BadConfig);
                assert!(err.message.contains("a system schema"), "{}", err.message);
                assert_eq!(
                    err.location.as_deref(),
                    Some("/w/Cargo.toml: [package.metadata.migrate]")
                );
            }
        }
        let err = parse(json!({"ignore": ["a", 1]})).unwrap_err();
        assert!(err.message.contains("a list of strings"));
        let err = parse(json!("postgres")).unwrap_err();
        assert!(err.message.contains("must be a table"));
    }

    #[test]
    fn package_settings_override_workspace_defaults_but_dir_is_not_inherited() {
        let workspace = MigrateConfig {
            dir: Some("/w/db".into()),
            dialect: Some(Dialect::Postgres),
            history_table: Some("h".into()),
            ..Default::default()
        };
        let package = MigrateConfig {
            dialect: Some(Dialect::Sqlite),
            ..Default::default()
        };
        let merged = package.or(&workspace);
        assert_eq!(merged.dialect, Some(Dialect::Sqlite));
        assert_eq!(merged.history_table.as_deref(), Some("h"));
        assert_eq!(merged.dir, None);
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("_cargo_migrate"));
        assert!(is_identifier("app.history"));
        assert!(!is_identifier("a.b.c"));
        assert!(!is_identifier("1abc"));
        assert!(!is_identifier("a-b"));
    }

    #[test]
    fn image_references() {
        for good in [
            "postgres",
            "postgres:17",
            "postgres:15-alpine",
            "library/postgres:16.4",
            "registry.example.com:5000/team/postgres:17",
            "postgres@sha256:0123abcd",
            "postgres:17@sha256:0123abcd",
        ] {
            assert!(is_image_reference(good), "{good}");
        }
        for bad in [
            "not an image!",
            "Postgres:17",
            "postgres:",
            ":17",
            "-postgres",
            "/postgres",
            "postgres//x",
            "postgres@sha256",
            "postgres:17 ",
        ] {
            assert!(!is_image_reference(bad), "{bad}");
        }
        let err = parse(json!({"image": "not an image!"})).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadConfig);
    }
}
