//! The error type every command returns: one line of what went wrong, one of where, one hint,
//! and the class that decides the process exit code.

use std::fmt;
use std::path::Path;

/// Why a command failed; decides the exit code (see `docs/errors.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// A check ran and found a problem (drift, irreversible migration, failed migration). Exit 1.
    CheckFailed,
    /// Bad usage, configuration or input files. Exit 2.
    Input,
    /// A database or Docker could not be reached. Exit 3.
    Unreachable,
}

impl ErrorClass {
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorClass::CheckFailed => 1,
            ErrorClass::Input => 2,
            ErrorClass::Unreachable => 3,
        }
    }
}

/// Defines [`ErrorCode`]: each variant with its stable kebab-case spelling.
macro_rules! error_codes {
    ($($variant:ident => $text:literal,)*) => {
        /// A stable identifier for each kind of error, listed in `docs/errors.md` and printed
        /// in JSON output, so scripts can tell errors apart without parsing messages.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                }
            }
        }
    };
}

error_codes! {
    AmbiguousSet => "ambiguous-set",
    BadArgument => "bad-argument",
    BadConfig => "bad-config",
    BadDatabaseUrl => "bad-database-url",
    BadGitRef => "bad-git-ref",
    BadManifestPath => "bad-manifest-path",
    BadMetadataToml => "bad-metadata-toml",
    BadMigrationName => "bad-migration-name",
    BadSchemaFile => "bad-schema-file",
    BadTemplate => "bad-template",
    BadToolMetadata => "bad-tool-metadata",
    CargoMetadataFailed => "cargo-metadata-failed",
    CheckFailed => "check-failed",
    ConfirmationRequired => "confirmation-required",
    DatabaseError => "database-error",
    DatabaseUnreachable => "database-unreachable",
    DialectMismatch => "dialect-mismatch",
    DockerUnreachable => "docker-unreachable",
    DownWithoutUp => "down-without-up",
    DuplicateName => "duplicate-name",
    DuplicateVersion => "duplicate-version",
    EmptyMigration => "empty-migration",
    FailedMigration => "failed-migration",
    HistoryTableMismatch => "history-table-mismatch",
    IncompleteMigration => "incomplete-migration",
    InsufficientPrivilege => "insufficient-privilege",
    IrreversibleMigration => "irreversible-migration",
    LockTimeout => "lock-timeout",
    MigrationExists => "migration-exists",
    MigrationFailed => "migration-failed",
    MigrationInterrupted => "migration-interrupted",
    MissingDirectory => "missing-directory",
    MissingMigrationFile => "missing-migration-file",
    MissingUp => "missing-up",
    MixedLayout => "mixed-layout",
    ModifiedMigration => "modified-migration",
    NoDatabaseUrl => "no-database-url",
    NoMigrationSet => "no-migration-set",
    NoSandbox => "no-sandbox",
    NoPostgresBinaries => "no-postgres-binaries",
    NonUtf8Sql => "non-utf8-sql",
    NotUpToDate => "not-up-to-date",
    NulByteInSql => "nul-byte-in-sql",
    OutOfOrder => "out-of-order",
    ReadOnlyDatabase => "read-only-database",
    RuntimeFailed => "runtime-failed",
    SandboxFailed => "sandbox-failed",
    SchemaDiffers => "schema-differs",
    SharedHistoryTable => "shared-history-table",
    StatementPooling => "statement-pooling",
    TlsError => "tls-error",
    TransactionControl => "transaction-control",
    UnknownConfigKey => "unknown-config-key",
    UnknownDialect => "unknown-dialect",
    UnknownPackage => "unknown-package",
    UnknownSafetyCode => "unknown-safety-code",
    UnknownTemplate => "unknown-template",
    UnknownVersion => "unknown-version",
    UnreadableDirectory => "unreadable-directory",
    UnreadableFile => "unreadable-file",
    UnreadableSql => "unreadable-sql",
    UnsafeMigration => "unsafe-migration",
    UnsupportedDialect => "unsupported-dialect",
    UnsupportedLayout => "unsupported-layout",
    UnverifiedMigration => "unverified-migration",
    UnwritableDirectory => "unwritable-directory",
    Usage => "usage",
    VersionNotStorable => "version-not-storable",
    VersionTooLarge => "version-too-large",
}

impl ErrorCode {
    /// The class (so the exit code) of every error with this code, as docs/errors.md lists
    /// it: one table, so a code never exits differently in two places.
    pub fn class(self) -> ErrorClass {
        match self {
            ErrorCode::CheckFailed
            | ErrorCode::FailedMigration
            | ErrorCode::IncompleteMigration
            | ErrorCode::IrreversibleMigration
            | ErrorCode::MigrationFailed
            | ErrorCode::MissingMigrationFile
            | ErrorCode::ModifiedMigration
            | ErrorCode::NotUpToDate
            | ErrorCode::OutOfOrder
            | ErrorCode::SchemaDiffers
            | ErrorCode::UnsafeMigration
            | ErrorCode::UnverifiedMigration => ErrorClass::CheckFailed,
            ErrorCode::AmbiguousSet
            | ErrorCode::BadArgument
            | ErrorCode::BadConfig
            | ErrorCode::BadDatabaseUrl
            | ErrorCode::BadGitRef
            | ErrorCode::BadManifestPath
            | ErrorCode::BadMetadataToml
            | ErrorCode::BadMigrationName
            | ErrorCode::BadSchemaFile
            | ErrorCode::BadTemplate
            | ErrorCode::BadToolMetadata
            | ErrorCode::CargoMetadataFailed
            | ErrorCode::ConfirmationRequired
            | ErrorCode::DialectMismatch
            | ErrorCode::DownWithoutUp
            | ErrorCode::DuplicateName
            | ErrorCode::DuplicateVersion
            | ErrorCode::EmptyMigration
            | ErrorCode::HistoryTableMismatch
            | ErrorCode::InsufficientPrivilege
            | ErrorCode::MigrationExists
            | ErrorCode::MissingDirectory
            | ErrorCode::MissingUp
            | ErrorCode::MixedLayout
            | ErrorCode::NoDatabaseUrl
            | ErrorCode::NoMigrationSet
            | ErrorCode::NonUtf8Sql
            | ErrorCode::NulByteInSql
            | ErrorCode::ReadOnlyDatabase
            | ErrorCode::SharedHistoryTable
            | ErrorCode::StatementPooling
            | ErrorCode::TlsError
            | ErrorCode::TransactionControl
            | ErrorCode::UnknownConfigKey
            | ErrorCode::UnknownDialect
            | ErrorCode::UnknownPackage
            | ErrorCode::UnknownSafetyCode
            | ErrorCode::UnknownTemplate
            | ErrorCode::UnknownVersion
            | ErrorCode::UnreadableDirectory
            | ErrorCode::UnreadableFile
            | ErrorCode::UnreadableSql
            | ErrorCode::UnsupportedDialect
            | ErrorCode::UnsupportedLayout
            | ErrorCode::UnwritableDirectory
            | ErrorCode::Usage
            | ErrorCode::VersionNotStorable
            | ErrorCode::VersionTooLarge => ErrorClass::Input,
            ErrorCode::DatabaseError
            | ErrorCode::DatabaseUnreachable
            | ErrorCode::DockerUnreachable
            | ErrorCode::LockTimeout
            | ErrorCode::MigrationInterrupted
            | ErrorCode::NoSandbox
            | ErrorCode::NoPostgresBinaries
            | ErrorCode::RuntimeFailed
            | ErrorCode::SandboxFailed => ErrorClass::Unreachable,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user-facing error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub class: ErrorClass,
    pub code: ErrorCode,
    pub message: String,
    /// The file, directory or setting the error is about.
    pub location: Option<String>,
    /// More lines shown after the location: a code frame, the server's detail.
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// The command already reported this outcome in its JSON object (e.g. `status
    /// --exit-code`), so JSON output must not add a second object.
    pub reported_in_json: bool,
    /// The command already said this in its human output (`diff --sql`: the script is the
    /// answer, the exit code says the schemas differ), so no `error:` line follows.
    pub reported_in_human: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `code`, whose class (so the exit code) [`ErrorCode::class`] decides.
    pub fn coded(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            class: code.class(),
            code,
            message: message.into(),
            location: None,
            detail: None,
            hint: None,
            reported_in_json: false,
            reported_in_human: false,
        }
    }

    /// [`Error::coded`]; `class` is not used: the code decides the class (one table,
    /// [`ErrorCode::class`]). Kept so that the callers written before need no change.
    pub fn new(class: ErrorClass, code: ErrorCode, message: impl Into<String>) -> Self {
        let _ = class;
        Error::coded(code, message)
    }

    /// [`Error::coded`], for the callers written before the class came from the code (an
    /// input code's class is input).
    pub fn input(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::coded(code, message)
    }

    pub fn at(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }

    pub fn at_path(self, path: &Path) -> Self {
        self.at(display_path(path))
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn exit_code(&self) -> i32 {
        self.class.exit_code()
    }

    /// Marks the error as already shown by the command's own JSON object.
    pub fn reported_in_json(mut self) -> Self {
        self.reported_in_json = true;
        self
    }

    /// Marks the error as already shown by the command's human output.
    pub fn reported_in_human(mut self) -> Self {
        self.reported_in_human = true;
        self
    }

    /// An I/O failure on `path`, of the code's class (the user's files are input, a
    /// sandbox's files are not).
    pub fn io(code: ErrorCode, action: &str, path: &Path, err: &std::io::Error) -> Self {
        let reason = io_reason(err);
        let hint = match err.kind() {
            std::io::ErrorKind::PermissionDenied => {
                "check the permissions of the path and of the directories above it"
            }
            std::io::ErrorKind::NotFound => "check that the path exists",
            _ => "check the path and try again",
        };
        Error::coded(code, format!("cannot {action}: {reason}"))
            .at_path(path)
            .hint(hint)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(location) = &self.location {
            write!(f, " ({location})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// The OS reason of an I/O error without Rust's " (os error 13)" suffix.
pub fn io_reason(err: &std::io::Error) -> String {
    strip_os_error(&err.to_string()).to_lowercase()
}

/// `text` without Rust's " (os error N)" suffixes, which mean nothing to users.
pub fn strip_os_error(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(" (os error ") {
        out.push_str(&rest[..start]);
        rest = match rest[start..].find(')') {
            Some(end) => &rest[start + end + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// A path as shown to users: relative to the current directory when it is below it, with `/`
/// separators, so messages are short and the same on every machine.
pub fn display_path(path: &Path) -> String {
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .filter(|relative| !relative.as_os_str().is_empty())
        .unwrap_or_else(|| path.to_path_buf());
    crate::report::printable(&shown.to_string_lossy().replace('\\', "/")).into_owned()
}
