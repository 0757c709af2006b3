//! `new`: naming, versioning and rendering a migration from templates, then writing it without
//! ever overwriting a file or leaving half of it behind.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde::Serialize;

use super::layout::Layout;
use super::version::{self, VersionStyle};
use super::{
    Migrations, NO_TRANSACTION_DIRECTIVE, SQLX_NO_TRANSACTION_DIRECTIVE, Version,
    has_no_transaction_directive,
};
use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode, Result, display_path};
use crate::workspace::Library;

/// Names are at most this long; longer ones make unwieldy paths and history rows.
pub const MAX_NAME_LEN: usize = 100;

/// The templates compiled into the binary: (name, up.sql, down.sql).
const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "default",
        include_str!("../../templates/default/up.sql"),
        include_str!("../../templates/default/down.sql"),
    ),
    (
        "create_table",
        include_str!("../../templates/create_table/up.sql"),
        include_str!("../../templates/create_table/down.sql"),
    ),
    (
        "add_column",
        include_str!("../../templates/add_column/up.sql"),
        include_str!("../../templates/add_column/down.sql"),
    ),
    (
        "create_index_concurrently",
        include_str!("../../templates/create_index_concurrently/up.sql"),
        include_str!("../../templates/create_index_concurrently/down.sql"),
    ),
];

/// A template's source text and where it came from (for error locations).
#[derive(Debug, Clone)]
pub struct Template {
    pub name: String,
    pub up: TemplateFile,
    pub down: Option<TemplateFile>,
}

#[derive(Debug, Clone)]
pub struct TemplateFile {
    /// `builtin:default/up.sql`, or the override's path.
    pub origin: String,
    pub source: String,
}

/// Checks a name for `new`: snake_case ASCII, at most [`MAX_NAME_LEN`] characters.
pub fn validate_name(name: &str) -> Result<()> {
    let refuse = |reason: String| {
        Error::input(
            ErrorCode::BadMigrationName,
            format!("invalid migration name `{name}`: {reason}"),
        )
        .at("NAME argument")
        .hint(match suggest_name(name) {
            Some(suggestion) if suggestion != name => format!("try `{suggestion}`"),
            _ => {
                "use lowercase ASCII letters, digits and underscores, e.g. `add_users_table`".into()
            }
        })
    };
    if name.is_empty() {
        return Err(
            Error::input(ErrorCode::BadMigrationName, "the migration name is empty")
                .at("NAME argument")
                .hint("name the change, e.g. `add_users_table`"),
        );
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(refuse(format!(
            "it is {} characters long; at most {MAX_NAME_LEN} are allowed",
            name.chars().count()
        )));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        // Show the character as typed unless it is a control character (tab, newline, …).
        let shown = if bad.is_control() {
            bad.escape_default().to_string()
        } else {
            bad.to_string()
        };
        return Err(refuse(format!(
            "`{shown}` is not allowed; names are snake_case ([a-z0-9_])"
        )));
    }
    if !name.chars().any(|c| c.is_ascii_alphanumeric()) {
        return Err(refuse("it has no letters or digits".into()));
    }
    Ok(())
}

/// The snake_case spelling of `name`, when one exists without dropping letters (`café` has
/// none: `caf` would be a different word).
fn suggest_name(name: &str) -> Option<String> {
    if name.chars().any(|c| c.is_alphanumeric() && !c.is_ascii()) {
        return None;
    }
    let mut out = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if previous_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            previous_lower = false;
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            previous_lower = false;
        }
    }
    let out: String = out.trim_matches('_').chars().take(MAX_NAME_LEN).collect();
    (!out.is_empty()).then_some(out)
}

/// Table and column names guessed from a migration name, for the templates:
/// `create_users_table` → (`users`, _), `add_email_to_users` → (`users`, `email`).
pub fn guess_table_and_column(name: &str) -> (String, String) {
    if name
        .split('_')
        .any(|word| matches!(word, "index" | "idx" | "indexes"))
    {
        return guess_index(name);
    }
    const VERBS: &[&str] = &[
        "create_", "add_", "drop_", "remove_", "alter_", "change_", "index_",
    ];
    const NOUNS: &[&str] = &["_table", "_index", "_column", "_idx"];
    let mut rest = name;
    for verb in VERBS {
        if let Some(stripped) = rest.strip_prefix(verb) {
            rest = stripped;
            break;
        }
    }
    let (column, table) = ["_to_", "_on_", "_from_", "_in_"]
        .iter()
        .filter_map(|sep| rest.rsplit_once(sep))
        .max_by_key(|(left, _)| left.len())
        .map_or((None, rest), |(left, right)| (Some(left), right));
    let strip_noun = |text: &str| {
        NOUNS
            .iter()
            .find_map(|n| text.strip_suffix(n))
            .unwrap_or(text)
            .to_string()
    };
    let table = strip_noun(table);
    let table = if table.is_empty() {
        "table_name".into()
    } else {
        table
    };
    let column = column.map(strip_noun).filter(|c| !c.is_empty());
    (table, column.unwrap_or_else(|| "new_column".into()))
}

/// Table and column of an index's migration name, whose words say what is indexed rather
/// than what is created: `add_email_index_to_users` and `index_users_email` → (`users`,
/// `email`). What the name does not say stays a placeholder (`add_email_index` →
/// (`table_name`, `email`)), so the template never indexes a made-up table.
fn guess_index(name: &str) -> (String, String) {
    const SKIPPED: &[&str] = &[
        "create",
        "add",
        "build",
        "index",
        "idx",
        "indexes",
        "concurrently",
        "unique",
    ];
    let words: Vec<&str> = name
        .split('_')
        .filter(|w| !w.is_empty() && !SKIPPED.contains(w))
        .collect();
    let join = |words: &[&str], placeholder: &str| match words {
        [] => placeholder.to_string(),
        words => words.join("_"),
    };
    match words
        .iter()
        .position(|w| matches!(*w, "on" | "to" | "for" | "in"))
    {
        // `…_on_users_email`: the table, then its column.
        Some(0) => match &words[1..] {
            [] => ("table_name".into(), "column_name".into()),
            [table] => (table.to_string(), "column_name".into()),
            [table, column @ ..] => (table.to_string(), column.join("_")),
        },
        Some(at) => (
            join(&words[at + 1..], "table_name"),
            join(&words[..at], "column_name"),
        ),
        None => match words.as_slice() {
            [] => ("table_name".into(), "column_name".into()),
            [column] => ("table_name".into(), column.to_string()),
            [table, column @ ..] => (table.to_string(), column.join("_")),
        },
    }
}

/// The rule for what a template is: a directory holding an `up.sql` (`down.sql` optional).
/// Anything else in a templates directory (such as this repository's `templates/deploy/`,
/// which holds a Dockerfile and Kubernetes manifests) is not a template: it is not listed,
/// and `new --template` refuses it by name.
pub fn is_template_dir(dir: &Path) -> bool {
    dir.join("up.sql").is_file()
}

/// Every template available: the built-in ones, overridden or extended by `override_dir`.
pub fn available_templates(override_dir: Option<&Path>) -> Result<Vec<String>> {
    let mut names: Vec<String> = BUILTIN.iter().map(|(n, _, _)| n.to_string()).collect();
    if let Some(dir) = override_dir {
        let entries = fs::read_dir(dir).map_err(|e| template_dir_error(dir, &e))?;
        for entry in entries {
            let entry = entry.map_err(|e| template_dir_error(dir, &e))?;
            if is_template_dir(&entry.path()) {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// Where to fix a `templates` setting that names no directory.
const TEMPLATES_HINT: &str = "create the directory, or fix `templates` in Cargo.toml's [package.metadata.migrate] or [workspace.metadata.migrate]";

fn template_dir_error(dir: &Path, err: &std::io::Error) -> Error {
    Error::io(
        ErrorCode::BadConfig,
        "read the templates directory",
        dir,
        err,
    )
    .hint(TEMPLATES_HINT)
}

/// Loads template `name`, preferring the override directory.
pub fn load_template(name: &str, override_dir: Option<&Path>) -> Result<Template> {
    if let Some(dir) = override_dir {
        if !dir.is_dir() {
            return Err(Error::input(
                ErrorCode::BadConfig,
                "the templates directory does not exist",
            )
            .at_path(dir)
            .hint(TEMPLATES_HINT));
        }
        let up_path = dir.join(name).join("up.sql");
        if !is_template_dir(&dir.join(name))
            && dir.join(name).is_dir()
            && !BUILTIN.iter().any(|(n, _, _)| *n == name)
        {
            return Err(Error::input(
                ErrorCode::UnknownTemplate,
                format!("`{name}` is not a migration template: its directory has no up.sql"),
            )
            .at_path(&dir.join(name))
            .hint(format!(
                "a template is a directory with an up.sql (and optionally a down.sql); available templates: {}",
                available_templates(Some(dir))?.join(", ")
            )));
        }
        if up_path.is_file() {
            let read = |path: &Path| -> Result<TemplateFile> {
                let source = fs::read_to_string(path)
                    .map_err(|e| Error::io(ErrorCode::BadTemplate, "read template", path, &e))?;
                Ok(TemplateFile {
                    origin: display_path(path),
                    source,
                })
            };
            let down_path = dir.join(name).join("down.sql");
            return Ok(Template {
                name: name.to_string(),
                up: read(&up_path)?,
                down: if down_path.is_file() {
                    Some(read(&down_path)?)
                } else {
                    None
                },
            });
        }
    }
    let Some((_, up, down)) = BUILTIN.iter().find(|(n, _, _)| *n == name) else {
        return Err(Error::input(
            ErrorCode::UnknownTemplate,
            format!("no template named `{name}`"),
        )
        .at("--template")
        .hint(format!(
            "available templates: {}",
            available_templates(override_dir)?.join(", ")
        )));
    };
    let builtin = |file: &str, source: &str| TemplateFile {
        origin: format!("builtin:{name}/{file}"),
        source: source.to_string(),
    };
    Ok(Template {
        name: name.to_string(),
        up: builtin("up.sql", up),
        down: Some(builtin("down.sql", down)),
    })
}

/// The variables a template sees.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateVars {
    pub name: String,
    pub version: String,
    pub timestamp: String,
    pub dialect: Dialect,
    pub package: String,
    pub table: String,
    pub column: String,
}

/// Renders one template file; an unknown variable or a syntax error names the file and line.
pub fn render(file: &TemplateFile, vars: &TemplateVars) -> Result<String> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // Built-in syntax never fails to build; fall back to the defaults if it ever did.
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    let fail = |err: minijinja::Error| {
        let location = match err.line() {
            Some(line) => format!("{}:{line}", file.origin),
            None => file.origin.clone(),
        };
        let known = "name, version, timestamp, dialect, package, table, column";
        Error::input(
            ErrorCode::BadTemplate,
            format!(
                "cannot render template: {}",
                err.detail().unwrap_or(&err.kind().to_string())
            ),
        )
        .at(location)
        .hint(format!("templates can use: {known}"))
    };
    env.add_template("migration", &file.source).map_err(fail)?;
    env.get_template("migration")
        .and_then(|t| t.render(minijinja::value::Serde(vars)))
        .map_err(fail)
}

/// A migration ready to be written.
#[derive(Debug, Clone)]
pub struct Scaffold {
    pub version: Version,
    /// A directory to create first (directory layout), removed again if writing fails.
    pub create_dir: Option<PathBuf>,
    pub files: Vec<(PathBuf, String)>,
}

/// What `new` was asked for.
pub struct NewRequest<'a> {
    pub name: &'a str,
    pub template: &'a Template,
    pub dialect: Dialect,
    pub package: Option<&'a str>,
    pub sequential: bool,
    /// The migration library of the owning crate: its loader must read what is written (a
    /// diesel set's first version in diesel's style, the no-transaction setting in the form
    /// the library reads).
    pub library: Option<Library>,
    pub now: NaiveDateTime,
}

/// Plans the files of a new migration in `dir`, following the set's layout and version style.
pub fn plan(dir: &Path, existing: &Migrations, request: &NewRequest<'_>) -> Result<Scaffold> {
    validate_name(request.name)?;
    if let Some(same) = existing.migrations.iter().find(|m| m.name == request.name) {
        return Err(Error::input(
            ErrorCode::DuplicateName,
            format!("a migration named `{}` already exists", request.name),
        )
        .at_path(&same.up.path)
        .hint("choose a name that says what this migration does differently"));
    }
    if existing.nested {
        return plan_nested(dir, existing, request);
    }
    let order = existing.order();
    // A library whose layout is not the set's (a `layout` setting overrides) has no say.
    let library = request
        .library
        .filter(|library| library.layout() == existing.layout);
    let newest = existing.newest().map(|m| &m.version);
    let newest_style = newest.map(Version::style);
    let style = match (request.sequential, newest_style) {
        (true, Some(VersionStyle::Sequential { width })) => VersionStyle::Sequential { width },
        (true, None) => VersionStyle::Sequential { width: 4 },
        (true, Some(_)) => {
            return Err(Error::input(
                ErrorCode::BadArgument,
                "--sequential on a set that uses timestamp versions",
            )
            .at_path(dir)
            .hint(
                "drop --sequential; a sequence number would sort before the existing migrations",
            ));
        }
        (false, Some(style)) => style,
        // Later migrations follow the newest one; the first takes the library's style.
        (false, None) => library.map_or(VersionStyle::Timestamp, Library::version_style),
    };
    let version = match existing.layout {
        // Flyway counts on from the newest version's last part, whatever the clock says.
        Layout::Flyway => Ok(super::layout::flyway::next_version(newest)),
        _ => version::next_version(style, order, newest, request.now),
    }
    .map_err(|_| {
        Error::input(
            ErrorCode::VersionTooLarge,
            "no version after the newest migration fits",
        )
        .at_path(dir)
        .hint(
            "the newest version is at the limit of its format (a directory-style set sorts \
             versions as text, so a sequence number one digit longer, like 10 after 9, would \
             run first)",
        )
    })?;

    let (table, column) = guess_table_and_column(request.name);
    let vars = TemplateVars {
        name: request.name.to_string(),
        version: version.as_str().to_string(),
        timestamp: request
            .now
            .and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        dialect: request.dialect,
        package: request.package.unwrap_or_default().to_string(),
        table,
        column,
    };
    let mut up = render(&request.template.up, &vars)?;
    let mut metadata_toml = None;
    let no_transaction = has_no_transaction_directive(&up, Layout::Directory);
    if no_transaction {
        match (existing.layout, library) {
            // sqlx reads only its own spelling; ours is accepted in sqlx sets too.
            (Layout::Sqlx, _) => {
                up = up.replacen(NO_TRANSACTION_DIRECTIVE, SQLX_NO_TRANSACTION_DIRECTIVE, 1);
            }
            // diesel ignores the directive and reads metadata.toml instead (so do we).
            (Layout::Directory, Some(Library::Diesel)) => {
                metadata_toml = Some("run_in_transaction = false\n".to_string());
            }
            (Layout::Directory, _)
            | (Layout::Flyway, _)
            | (Layout::GolangMigrate, _)
            | (Layout::Refinery, _) => {}
            // Tool formats say it in their own words (see `super::format::scaffold`).
            _ => {}
        }
    }
    // A template without down.sql makes an irreversible migration: no empty down script that
    // would claim to undo it.
    let mut down = match &request.template.down {
        Some(file) => Some(render(file, &vars)?),
        None => None,
    };
    if existing.layout == Layout::Sqlx
        && let Some(down) = down
            .as_mut()
            .filter(|down| has_no_transaction_directive(down, Layout::Directory))
    {
        *down = down.replacen(NO_TRANSACTION_DIRECTIVE, SQLX_NO_TRANSACTION_DIRECTIVE, 1);
    }
    let stem = format!("{}_{}", version.as_str(), request.name);
    let (create_dir, files) = match existing.layout {
        Layout::Directory => {
            let migration_dir = dir.join(&stem);
            let mut files = vec![(migration_dir.join("up.sql"), up)];
            files.extend(down.map(|down| (migration_dir.join("down.sql"), down)));
            files.extend(metadata_toml.map(|toml| (migration_dir.join("metadata.toml"), toml)));
            (Some(migration_dir), files)
        }
        // A new sqlx set is reversible when its first migration has a down: sqlx reads a set
        // of pairs, or of single files, but a set's first migration decides which.
        Layout::Sqlx
            if existing.sqlx_reversible || (existing.migrations.is_empty() && down.is_some()) =>
        {
            let mut files = vec![(dir.join(format!("{stem}.up.sql")), up)];
            files.extend(down.map(|down| (dir.join(format!("{stem}.down.sql")), down)));
            (None, files)
        }
        Layout::Sqlx => (None, vec![(dir.join(format!("{stem}.sql")), up)]),
        // refinery has no down scripts.
        Layout::Refinery => (
            None,
            vec![(
                dir.join(format!("V{}__{}.sql", version.as_str(), request.name)),
                up,
            )],
        ),
        // golang-migrate reads `.up.sql` (and `.down.sql`) only.
        Layout::GolangMigrate => {
            let mut files = vec![(dir.join(format!("{stem}.up.sql")), up)];
            files.extend(down.map(|down| (dir.join(format!("{stem}.down.sql")), down)));
            (None, files)
        }
        Layout::Flyway => (
            None,
            crate::migration::layout::flyway::scaffold_files(
                dir,
                &existing.migrations,
                version.as_str(),
                request.name,
                up,
                down,
            ),
        ),
        tool => super::format::scaffold(tool, dir, &stem, up, down, no_transaction)?,
    };
    Ok(Scaffold {
        version,
        create_dir,
        files,
    })
}

/// `new` in a set split into sub-folders: the migration goes into the newest folder, numbered
/// after that folder's newest migration as a set of its own would be.
fn plan_nested(dir: &Path, existing: &Migrations, request: &NewRequest<'_>) -> Result<Scaffold> {
    let Some((folder, _)) = existing
        .newest()
        .and_then(|m| m.version.as_str().rsplit_once('/'))
    else {
        return Err(Error::input(
            ErrorCode::BadArgument,
            "the set is split into sub-folders (`subfolders`) and has none with migrations yet",
        )
        .at_path(dir)
        .hint("create the first sub-folder (e.g. `1/`) and run `new` again"));
    };
    let order = existing.layout.version_order();
    let mut inner = Vec::new();
    for migration in &existing.migrations {
        let Some(version) = migration
            .version
            .as_str()
            .strip_prefix(folder)
            .and_then(|rest| rest.strip_prefix('/'))
        else {
            continue;
        };
        let mut migration = migration.clone();
        // Read back as the folder's own set did, so `new` continues its numbering.
        migration.version = Version::parse(version, order)
            .map_err(|e| super::layout::version_error(e, &migration.up.path, existing.layout))?;
        inner.push(migration);
    }
    let folder_set = Migrations {
        layout: existing.layout,
        sqlx_reversible: existing.sqlx_reversible,
        migrations: inner,
        nested: false,
    };
    let mut scaffold = plan(&dir.join(folder), &folder_set, request)?;
    let raw = format!("{folder}/{}", scaffold.version.as_str());
    scaffold.version = Version::parse(&raw, version::VersionOrder::Nested).map_err(|_| {
        Error::input(
            ErrorCode::BadMigrationName,
            format!("version `{raw}` cannot be ordered across sub-folders"),
        )
        .at_path(&dir.join(folder))
    })?;
    Ok(scaffold)
}

/// Writes a planned migration: creates `migrations_dir` if needed, never overwrites, and on any
/// failure removes whatever it created, so nothing is half-written. Each file is written in
/// full to a hidden temporary file next to where it goes (a new migration directory is built
/// as a hidden directory beside it) and only then moved into place: a crash or a full disk
/// leaves at most a dotfile, which scanning ignores, never a partial migration.
pub fn write(migrations_dir: &Path, scaffold: &Scaffold) -> Result<Vec<PathBuf>> {
    let mut created_dirs: Vec<PathBuf> = Vec::new();
    let mut staged = Staged::default();
    let result = (|| -> Result<()> {
        if !migrations_dir.is_dir() {
            create_missing_dir(migrations_dir, &mut created_dirs)?;
        }
        // A migration directory that does not exist yet is built under a hidden name and
        // renamed into place at the end; one that exists gets its files one by one.
        let new_dir = match scaffold.create_dir.as_deref() {
            Some(dir) if dir.is_dir() => None,
            Some(dir) if dir.exists() => {
                return Err(Error::input(
                    ErrorCode::MigrationExists,
                    "a file is in the way of the migration directory",
                )
                .at_path(dir)
                .hint("move or remove it"));
            }
            Some(dir) => {
                if let Some(parent) = dir.parent().filter(|p| !p.is_dir()) {
                    create_missing_dir(parent, &mut created_dirs)?;
                }
                let temp = temp_path(dir);
                fs::create_dir(&temp).map_err(|e| {
                    Error::io(ErrorCode::UnwritableDirectory, "create directory", dir, &e)
                })?;
                staged.dir = Some((temp.clone(), dir.to_path_buf()));
                Some((temp, dir))
            }
            None => None,
        };
        for (path, contents) in &scaffold.files {
            // Drizzle's journal is the one file `new` rewrites (atomically, after the rest).
            if super::format::drizzle::is_journal(path) {
                continue;
            }
            if path.exists() {
                return Err(exists(path));
            }
            let inside = new_dir
                .as_ref()
                .and_then(|(temp, dir)| path.strip_prefix(dir).ok().map(|rest| temp.join(rest)));
            let temp = match inside {
                Some(temp) => temp,
                None => {
                    let temp = temp_path(path);
                    staged.files.push((temp.clone(), path.clone()));
                    temp
                }
            };
            write_new(&temp, contents)
                .map_err(|e| Error::io(ErrorCode::UnwritableDirectory, "write file", path, &e))?;
        }
        // Everything is written in full; now each piece appears under its name at once.
        staged.commit()?;
        for (path, contents) in &scaffold.files {
            if super::format::drizzle::is_journal(path) {
                super::format::drizzle::replace_journal(path, contents)?;
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(scaffold.files.iter().map(|(p, _)| p.clone()).collect()),
        Err(err) => {
            // Best effort: the original error is what the user needs to see.
            staged.roll_back();
            for dir in &created_dirs {
                let _ = fs::remove_dir(dir);
            }
            Err(err)
        }
    }
}

/// Creates `dir` and its missing ancestors, remembering them (outermost last) for removal.
fn create_missing_dir(dir: &Path, created: &mut Vec<PathBuf>) -> Result<()> {
    if dir.exists() {
        return Err(Error::input(
            ErrorCode::MigrationExists,
            "a file is in the way of the migration directory",
        )
        .at_path(dir)
        .hint("move or remove it"));
    }
    let missing: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|a| !a.exists())
        .map(Path::to_path_buf)
        .collect();
    fs::create_dir_all(dir)
        .map_err(|e| Error::io(ErrorCode::UnwritableDirectory, "create directory", dir, &e))?;
    created.extend(missing);
    Ok(())
}

fn exists(path: &Path) -> Error {
    Error::input(
        ErrorCode::MigrationExists,
        "the migration file already exists",
    )
    .at_path(path)
    .hint("nothing was overwritten; run `new` again for a fresh version")
}

/// A hidden name beside `path` (same folder, so the final rename stays on one file system).
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes `contents` to a new file and flushes it to disk, so the rename that follows never
/// publishes a file whose data is still in flight.
fn write_new(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    std::io::Write::write_all(&mut file, contents.as_bytes())?;
    file.sync_all()
}

/// The temporary pieces of a migration being written, and those already moved into place.
#[derive(Default)]
struct Staged {
    /// (hidden directory, final directory)
    dir: Option<(PathBuf, PathBuf)>,
    /// (hidden file, final path), for files outside a new migration directory.
    files: Vec<(PathBuf, PathBuf)>,
    committed: Vec<PathBuf>,
}

impl Staged {
    fn commit(&mut self) -> Result<()> {
        if let Some((temp, dir)) = &self.dir {
            if dir.exists() {
                return Err(exists(dir));
            }
            fs::rename(temp, dir).map_err(|e| {
                Error::io(ErrorCode::UnwritableDirectory, "create directory", dir, &e)
            })?;
            self.committed.push(dir.clone());
        }
        for (temp, path) in &self.files {
            publish(temp, path)?;
            self.committed.push(path.clone());
        }
        Ok(())
    }

    fn roll_back(&self) {
        for path in self.committed.iter().rev() {
            if path.is_dir() {
                let _ = fs::remove_dir_all(path);
            } else {
                let _ = fs::remove_file(path);
            }
        }
        for (temp, _) in &self.files {
            let _ = fs::remove_file(temp);
        }
        if let Some((temp, _)) = &self.dir {
            let _ = fs::remove_dir_all(temp);
        }
    }
}

/// Moves a finished temporary file to `path` without ever replacing a file there: a hard link
/// fails if the name is taken (where links are not supported, a checked rename).
fn publish(temp: &Path, path: &Path) -> Result<()> {
    match fs::hard_link(temp, path) {
        Ok(()) => {
            let _ = fs::remove_file(temp);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists(path)),
        Err(_) if !path.exists() => fs::rename(temp, path)
            .map_err(|e| Error::io(ErrorCode::UnwritableDirectory, "write file", path, &e)),
        Err(_) => Err(exists(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_snake_case_ascii() {
        assert!(validate_name("add_users_table").is_ok());
        assert!(validate_name("v2_fix").is_ok());
        let err = validate_name("AddUsers").unwrap_err();
        assert_eq!(err.code, ErrorCode::BadMigrationName);
        assert!(
            err.message.contains("`A` is not allowed"),
            "{}",
            err.message
        );
        assert_eq!(err.hint.as_deref(), Some("try `add_users`"));
        assert_eq!(
            validate_name("add-users").unwrap_err().hint.as_deref(),
            Some("try `add_users`")
        );
        assert_eq!(
            validate_name("").unwrap_err().message,
            "the migration name is empty"
        );
        assert!(
            validate_name("___")
                .unwrap_err()
                .message
                .contains("no letters")
        );
        let err = validate_name("café").unwrap_err();
        assert!(
            err.message.contains("`é` is not allowed"),
            "{}",
            err.message
        );
        assert!(!err.hint.unwrap().contains("caf`"));
        let err = validate_name("a b").unwrap_err();
        assert!(
            err.message.contains("` ` is not allowed"),
            "{}",
            err.message
        );
        let long = "a".repeat(101);
        assert!(
            validate_name(&long)
                .unwrap_err()
                .message
                .contains("101 characters")
        );
        assert!(validate_name(&"a".repeat(100)).is_ok());
    }

    #[test]
    fn guesses_table_and_column() {
        let guess = |n: &str| guess_table_and_column(n);
        assert_eq!(
            guess("create_users_table"),
            ("users".into(), "new_column".into())
        );
        assert_eq!(guess("create_users"), ("users".into(), "new_column".into()));
        assert_eq!(
            guess("add_email_to_users"),
            ("users".into(), "email".into())
        );
        for (name, table, column) in [
            ("add_index_on_users_email", "users", "email"),
            ("add_email_index", "table_name", "email"),
            ("add_email_index_to_users", "users", "email"),
            ("index_users_email", "users", "email"),
            (
                "create_index_concurrently_on_orders_created_at",
                "orders",
                "created_at",
            ),
            ("add_unique_idx_on_users", "users", "column_name"),
            ("add_index", "table_name", "column_name"),
        ] {
            assert_eq!(guess(name), (table.into(), column.into()), "{name}");
        }
        assert_eq!(guess("create_"), ("table_name".into(), "new_column".into()));
    }

    fn vars(dialect: Dialect) -> TemplateVars {
        TemplateVars {
            name: "add_email_to_users".into(),
            version: "20261122100000".into(),
            timestamp: "2026-11-22T10:00:00Z".into(),
            dialect,
            package: "app".into(),
            table: "users".into(),
            column: "email".into(),
        }
    }

    #[test]
    fn builtin_templates_render_for_every_dialect() {
        for name in available_templates(None).unwrap() {
            let template = load_template(&name, None).unwrap();
            for dialect in Dialect::ALL {
                let up = render(&template.up, &vars(dialect)).unwrap();
                assert!(!up.contains("{{"), "{name} {dialect}: {up}");
                render(template.down.as_ref().unwrap(), &vars(dialect)).unwrap();
            }
        }
    }

    #[test]
    fn create_table_is_dialect_specific() {
        let template = load_template("create_table", None).unwrap();
        let pg = render(&template.up, &vars(Dialect::Postgres)).unwrap();
        assert!(
            pg.starts_with("CREATE TABLE users (\n    id bigint GENERATED ALWAYS AS IDENTITY"),
            "{pg}"
        );
        let sqlite = render(&template.up, &vars(Dialect::Sqlite)).unwrap();
        assert!(
            sqlite.contains("INTEGER PRIMARY KEY AUTOINCREMENT"),
            "{sqlite}"
        );
    }

    #[test]
    fn index_template_carries_the_no_transaction_directive() {
        let template = load_template("create_index_concurrently", None).unwrap();
        let up = render(&template.up, &vars(Dialect::Postgres)).unwrap();
        assert!(super::super::has_no_transaction_directive(
            &up,
            Layout::Directory
        ));
        assert!(
            up.contains(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx ON users (email);"
            )
        );
    }

    #[test]
    fn unknown_variables_are_errors_naming_the_line() {
        let file = TemplateFile {
            origin: "templates/x/up.sql".into(),
            source: "-- ok\nselect {{ tabel }};\n".into(),
        };
        let err = render(&file, &vars(Dialect::Postgres)).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadTemplate);
        assert_eq!(err.location.as_deref(), Some("templates/x/up.sql:2"));
    }

    /// This repository's `templates/`: every directory with an up.sql is a built-in
    /// template, and `deploy/` (a Dockerfile and manifests) is not a template at all, even
    /// when a workspace points `templates` at this directory.
    #[test]
    fn only_directories_with_up_sql_are_templates() {
        let repo_templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut dirs: Vec<String> = fs::read_dir(&repo_templates)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| is_template_dir(p))
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        dirs.sort();
        let mut builtin: Vec<&str> = BUILTIN.iter().map(|(n, _, _)| *n).collect();
        builtin.sort();
        assert_eq!(dirs, builtin, "templates/ and BUILTIN disagree");
        assert!(repo_templates.join("deploy").is_dir());
        assert!(!is_template_dir(&repo_templates.join("deploy")));

        let listed = available_templates(Some(&repo_templates)).unwrap();
        assert!(!listed.contains(&"deploy".to_string()), "{listed:?}");
        assert!(listed.contains(&"default".to_string()), "{listed:?}");

        let err = load_template("deploy", Some(&repo_templates)).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownTemplate);
        assert!(err.message.contains("has no up.sql"), "{}", err.message);
        assert!(err.location.unwrap().ends_with("templates/deploy"));
        assert!(!err.hint.unwrap().contains("deploy"));
        // Without a templates directory, `deploy` is simply not a template.
        let err = load_template("deploy", None).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownTemplate);
        // A built-in name still loads the override when it is a template.
        assert!(load_template("default", Some(&repo_templates)).is_ok());
    }

    /// A new set is written the way the crate's library reads it: (layout, library, template)
    /// → the files' names (the version replaced by `V`) and the no-transaction spelling.
    #[test]
    fn a_new_set_follows_the_library() {
        let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 22)
            .and_then(|d| d.and_hms_opt(10, 15, 0))
            .unwrap();
        // (layout, library, template, files, how up.sql starts)
        type Case<'a> = (Layout, Option<Library>, &'a str, &'a [&'a str], &'a str);
        let cases: &[Case] = &[
            (
                Layout::Directory,
                None,
                "default",
                &["20261122101500_x/up.sql", "20261122101500_x/down.sql"],
                "",
            ),
            (
                Layout::Directory,
                Some(Library::Diesel),
                "create_index_concurrently",
                &[
                    "2026-11-22-101500-0000_x/up.sql",
                    "2026-11-22-101500-0000_x/down.sql",
                    "2026-11-22-101500-0000_x/metadata.toml",
                ],
                "-- migrate:no-transaction\n",
            ),
            (
                Layout::Sqlx,
                Some(Library::Sqlx),
                "create_index_concurrently",
                &["20261122101500_x.up.sql", "20261122101500_x.down.sql"],
                "-- no-transaction\n",
            ),
            // A library whose layout a `layout` setting overrode has no say in the version.
            (
                Layout::Sqlx,
                Some(Library::Diesel),
                "create_table",
                &["20261122101500_x.up.sql", "20261122101500_x.down.sql"],
                "CREATE TABLE",
            ),
        ];
        for (layout, library, template, files, up_starts) in cases {
            let existing = Migrations {
                layout: *layout,
                sqlx_reversible: false,
                migrations: Vec::new(),
                nested: false,
            };
            let template = load_template(template, None).unwrap();
            let request = NewRequest {
                name: "x",
                template: &template,
                dialect: Dialect::Postgres,
                package: None,
                sequential: false,
                library: *library,
                now,
            };
            let planned = plan(Path::new("m"), &existing, &request).unwrap();
            let names: Vec<String> = planned
                .files
                .iter()
                .map(|(p, _)| p.strip_prefix("m").unwrap().display().to_string())
                .collect();
            assert_eq!(names, *files, "{layout:?} {library:?}");
            assert!(
                planned.files[0].1.starts_with(up_starts),
                "{layout:?} {library:?}: {}",
                planned.files[0].1
            );
            if *layout == Layout::Sqlx && template.name == "create_index_concurrently" {
                assert!(planned.files[1].1.starts_with("-- no-transaction\n"));
            }
        }
    }

    #[test]
    fn unknown_template_lists_the_available_ones() {
        let err = load_template("nope", None).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownTemplate);
        assert!(err.hint.unwrap().contains("create_index_concurrently"));
    }

    fn scaffold(create_dir: Option<PathBuf>, files: &[(PathBuf, &str)]) -> Scaffold {
        Scaffold {
            version: Version::parse("1", version::VersionOrder::Integer).unwrap(),
            create_dir,
            files: files
                .iter()
                .map(|(path, text)| (path.clone(), (*text).to_string()))
                .collect(),
        }
    }

    /// Every name in `dir`, recursively, relative to it (dotfiles included).
    fn listing(dir: &Path) -> Vec<String> {
        fn walk(root: &Path, dir: &Path, names: &mut Vec<String>) {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                names.push(path.strip_prefix(root).unwrap().display().to_string());
                if path.is_dir() {
                    walk(root, &path, names);
                }
            }
        }
        let mut names = Vec::new();
        walk(dir, dir, &mut names);
        names.sort();
        names
    }

    #[test]
    fn written_migrations_appear_whole_with_no_temporary_left() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("migrations");
        let version_dir = dir.join("1_add");
        let planned = scaffold(
            Some(version_dir.clone()),
            &[
                (version_dir.join("up.sql"), "CREATE TABLE t (id INT);\n"),
                (version_dir.join("down.sql"), "DROP TABLE t;\n"),
            ],
        );
        write(&dir, &planned).unwrap();
        assert_eq!(listing(&dir), ["1_add", "1_add/down.sql", "1_add/up.sql"]);
        assert_eq!(
            fs::read_to_string(version_dir.join("up.sql")).unwrap(),
            "CREATE TABLE t (id INT);\n"
        );
        // Loose files (Flyway's V and U scripts) the same way.
        let planned = scaffold(
            None,
            &[
                (dir.join("V2__b.sql"), "up\n"),
                (dir.join("U2__b.sql"), "down\n"),
            ],
        );
        write(&dir, &planned).unwrap();
        assert_eq!(
            listing(&dir),
            [
                "1_add",
                "1_add/down.sql",
                "1_add/up.sql",
                "U2__b.sql",
                "V2__b.sql"
            ]
        );
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("migrations");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("0_keep.sql"), "kept\n").unwrap();
        // The second file cannot be written (its folder is missing): the first, already
        // written in full under a hidden name, and the new directory go again.
        let version_dir = dir.join("1_add");
        let planned = scaffold(
            Some(version_dir.clone()),
            &[
                (version_dir.join("up.sql"), "up\n"),
                (dir.join("missing").join("down.sql"), "down\n"),
            ],
        );
        let err = write(&dir, &planned).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnwritableDirectory);
        assert_eq!(listing(&dir), ["0_keep.sql"]);
        // A taken name is never replaced, and nothing else of the migration stays.
        let planned = scaffold(
            None,
            &[
                (dir.join("V1__a.sql"), "up\n"),
                (dir.join("0_keep.sql"), "new\n"),
            ],
        );
        let err = write(&dir, &planned).unwrap_err();
        assert_eq!(err.code, ErrorCode::MigrationExists);
        assert_eq!(listing(&dir), ["0_keep.sql"]);
        assert_eq!(
            fs::read_to_string(dir.join("0_keep.sql")).unwrap(),
            "kept\n"
        );
        // A migrations folder `write` had to create goes too.
        let fresh = root.path().join("new").join("migrations");
        let planned = scaffold(None, &[(fresh.join("missing").join("V1__a.sql"), "up\n")]);
        write(&fresh, &planned).unwrap_err();
        assert!(!root.path().join("new").exists());
    }
}
