//! Deploy safety: which statements of a migration take locks that stall a busy table, rewrite
//! it, or wait without a bound — guessed statically by squawk-linter's rules ([`statik`]) and
//! verified by running the statements on a scratch PostgreSQL database and reading `pg_locks`
//! ([`trace`]). Findings carry stable codes ([`CODES`], documented in docs/safety.md), a
//! severity the configuration may change, a verdict (did the trace confirm the static guess?)
//! and `file:line:col`.

pub mod analyse;
pub mod run;
pub mod select;
pub mod statik;
pub mod suppress;
pub mod trace;
pub mod words;

use std::collections::BTreeMap;

use serde::Serialize;

/// How much a finding matters: `error` fails `check` and `lint`, `warning` is reported, `off`
/// is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Off,
    /// A static guess the trace refuted (the statement took no lock on an existing relation):
    /// shown, never failing.
    Note,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Off => "off",
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "error" => Ok(Severity::Error),
            "warning" | "warn" => Ok(Severity::Warning),
            "off" | "allow" => Ok(Severity::Off),
            _ => Err(format!(
                "unknown severity `{text}`; expected error, warning or off"
            )),
        }
    }
}

/// What the trace says about a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The static rule predicted it and the trace saw it.
    Confirmed,
    /// The static rule predicted it; the trace ran the statement and saw no lock on an existing
    /// relation or rewrite (e.g. the table is new in this migration).
    StaticOnly,
    /// Only the trace saw it.
    TraceOnly,
    /// The statement was not traced (SQLite, a no-transaction migration, `--no-trace`, or the
    /// statement failed on the scratch database): the static rule's word alone.
    Untraced,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Confirmed => "confirmed",
            Verdict::StaticOnly => "static-only",
            Verdict::TraceOnly => "trace-only",
            Verdict::Untraced => "untraced",
        }
    }
}

/// What the trace must see on a statement to confirm a static finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A lock that blocks writes (SHARE or stronger) on a relation that existed before.
    BlockingLock,
    /// An ACCESS EXCLUSIVE lock on a relation that existed before.
    ExclusiveLock,
    /// A relation that existed before got a new file (a rewrite).
    Rewrite,
    /// A blocking lock taken while `lock_timeout` is the session default (the script set none).
    LockWithoutTimeout,
    /// The statement fails on the scratch database with this SQLSTATE.
    Fails(&'static str),
    /// The statement dropped views that existed without naming them (CASCADE), or failed
    /// because a view depends on what it drops.
    DroppedView,
    /// The trace cannot see it (e.g. the statement fails in a transaction).
    Nothing,
}

/// One finding code: the documentation docs/safety.md repeats, the squawk rules that predict it
/// and what the trace checks.
#[derive(Debug, Clone, Copy)]
pub struct Code {
    pub code: &'static str,
    pub severity: Severity,
    /// squawk-linter rules (by name) that report it.
    pub squawk: &'static [&'static str],
    pub expect: Expect,
    /// The problem, in one line.
    pub problem: &'static str,
    /// The safe rewrite, in one line (the finding's hint).
    pub rewrite: &'static str,
}

/// Every finding code, in the order docs/safety.md lists them.
pub const CODES: &[Code] = &[
    Code {
        code: "index-not-concurrent",
        severity: Severity::Error,
        squawk: &["require-concurrent-index-creation"],
        expect: Expect::BlockingLock,
        problem: "CREATE INDEX without CONCURRENTLY holds a SHARE lock on the table, blocking writes while the index builds",
        rewrite: "CREATE INDEX CONCURRENTLY in a migration of its own with `-- migrate:no-transaction` as its first line",
    },
    Code {
        code: "drop-index-not-concurrent",
        severity: Severity::Error,
        squawk: &["require-concurrent-index-deletion"],
        expect: Expect::ExclusiveLock,
        problem: "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the table, blocking reads and writes",
        rewrite: "DROP INDEX CONCURRENTLY in a migration of its own with `-- migrate:no-transaction` as its first line",
    },
    Code {
        code: "concurrently-in-transaction",
        severity: Severity::Error,
        squawk: &["ban-concurrent-index-creation-in-transaction"],
        expect: Expect::Fails("25001"),
        problem: "CONCURRENTLY cannot run inside a transaction block: the migration fails",
        rewrite: "put the statement in a migration of its own with `-- migrate:no-transaction` as its first line",
    },
    Code {
        code: "constraint-validated",
        severity: Severity::Error,
        squawk: &["constraint-missing-not-valid"],
        expect: Expect::BlockingLock,
        problem: "a constraint added and validated in one step scans the table under a lock that blocks writes",
        rewrite: "ADD CONSTRAINT … NOT VALID, then VALIDATE CONSTRAINT in a later migration (it takes a SHARE UPDATE EXCLUSIVE lock only)",
    },
    Code {
        code: "foreign-key-validated",
        severity: Severity::Error,
        squawk: &["adding-foreign-key-constraint"],
        expect: Expect::BlockingLock,
        problem: "a foreign key added and validated in one step locks both tables against writes while it scans",
        rewrite: "ADD CONSTRAINT … FOREIGN KEY … NOT VALID, then VALIDATE CONSTRAINT in a later migration",
    },
    Code {
        code: "unique-without-index",
        severity: Severity::Error,
        squawk: &["disallowed-unique-constraint"],
        expect: Expect::BlockingLock,
        problem: "a UNIQUE constraint builds its index under an ACCESS EXCLUSIVE lock",
        rewrite: "CREATE UNIQUE INDEX CONCURRENTLY first (no-transaction migration), then ADD CONSTRAINT … UNIQUE USING INDEX",
    },
    Code {
        code: "primary-key-without-index",
        severity: Severity::Error,
        squawk: &["adding-serial-primary-key-field"],
        expect: Expect::BlockingLock,
        problem: "a PRIMARY KEY added to an existing table builds its index under an ACCESS EXCLUSIVE lock",
        rewrite: "CREATE UNIQUE INDEX CONCURRENTLY first (no-transaction migration), then ADD CONSTRAINT … PRIMARY KEY USING INDEX",
    },
    Code {
        code: "volatile-default",
        severity: Severity::Error,
        squawk: &["adding-field-with-default"],
        expect: Expect::Rewrite,
        problem: "a column added with a volatile default (or a stored generated column) rewrites the table under an ACCESS EXCLUSIVE lock",
        rewrite: "add the column without a default (or with a constant one), set the default, then backfill in batches",
    },
    Code {
        code: "not-null-scan",
        severity: Severity::Error,
        squawk: &["adding-not-nullable-field", "adding-required-field"],
        expect: Expect::ExclusiveLock,
        problem: "SET NOT NULL (or a NOT NULL column without a default) scans the whole table under an ACCESS EXCLUSIVE lock",
        rewrite: "ADD CONSTRAINT … CHECK (col IS NOT NULL) NOT VALID, VALIDATE it in a later migration, then SET NOT NULL (PostgreSQL 12+ skips the scan)",
    },
    Code {
        code: "column-type-rewrite",
        severity: Severity::Error,
        squawk: &["changing-column-type"],
        expect: Expect::Rewrite,
        problem: "changing a column's type rewrites the table (and its indexes) under an ACCESS EXCLUSIVE lock",
        rewrite: "add a new column of the new type, backfill it in batches, switch readers, then drop the old column",
    },
    Code {
        code: "breaking-drop",
        severity: Severity::Warning,
        squawk: &["ban-drop-column", "ban-drop-table"],
        expect: Expect::ExclusiveLock,
        problem: "dropping a column or table breaks the application version still running during a rolling deploy",
        rewrite: "stop using it in a release first, then drop it in a later migration",
    },
    Code {
        code: "breaking-rename",
        severity: Severity::Warning,
        squawk: &["renaming-column", "renaming-table"],
        expect: Expect::ExclusiveLock,
        problem: "renaming a column or table breaks the application version still running during a rolling deploy",
        rewrite: "add the new name (a column, or a view for a table), move readers and writers, then drop the old name later",
    },
    Code {
        code: "enum-value-used-in-transaction",
        severity: Severity::Error,
        squawk: &[],
        expect: Expect::Fails("55P04"),
        problem: "an enum value added by ALTER TYPE … ADD VALUE cannot be used before that transaction commits: the migration fails (unsafe use of new value)",
        rewrite: "add the value in a migration of its own (or one with `-- migrate:no-transaction`), and use it in a later migration",
    },
    Code {
        code: "drop-used-by-view",
        severity: Severity::Error,
        squawk: &[],
        expect: Expect::DroppedView,
        problem: "the table or column dropped is used by a view: without CASCADE the migration fails, with CASCADE the view silently goes too",
        rewrite: "drop or redefine the views that use it first (CREATE OR REPLACE VIEW without the column), each named in the migration, then drop it without CASCADE",
    },
    Code {
        code: "missing-lock-timeout",
        severity: Severity::Warning,
        squawk: &["require-lock-timeout"],
        expect: Expect::LockWithoutTimeout,
        problem: "a blocking lock is requested with no lock_timeout of the migration's own: behind a long transaction it waits, and every query on the table queues behind it",
        rewrite: "start the migration with `SET LOCAL lock_timeout = '2s';` (plain `SET lock_timeout` when it runs outside a transaction, where SET LOCAL does nothing), and retry the deploy when it times out",
    },
    Code {
        code: "access-exclusive-lock",
        severity: Severity::Warning,
        squawk: &[],
        expect: Expect::ExclusiveLock,
        problem: "the statement takes an ACCESS EXCLUSIVE lock on an existing relation: reads and writes wait until the transaction ends",
        rewrite: "find the form of the change that takes a weaker lock (CONCURRENTLY, NOT VALID, a new column) or keep the transaction to this one short statement",
    },
    Code {
        code: "write-blocking-lock",
        severity: Severity::Warning,
        squawk: &[],
        expect: Expect::BlockingLock,
        problem: "the statement takes a lock that blocks writes (SHARE or stronger) on an existing relation until the transaction ends",
        rewrite: "use the CONCURRENTLY or NOT VALID form of the change, or keep the transaction short",
    },
    Code {
        code: "table-rewrite",
        severity: Severity::Error,
        squawk: &[],
        expect: Expect::Rewrite,
        problem: "the statement rewrote an existing table or index (its file changed): time in proportion to its size, under an ACCESS EXCLUSIVE lock",
        rewrite: "make the change without a rewrite (a new column and a backfill), or schedule it in a maintenance window",
    },
    Code {
        code: "lock-held-across-statements",
        severity: Severity::Warning,
        squawk: &[],
        expect: Expect::ExclusiveLock,
        problem: "an ACCESS EXCLUSIVE lock on an existing table is held while further statements of the migration run (until it commits)",
        rewrite: "put the statement that takes the lock last, or in a migration of its own",
    },
    Code {
        code: "unparsed-statement",
        severity: Severity::Warning,
        squawk: &[],
        expect: Expect::Nothing,
        problem: "the static parser cannot read the statement, so no static rule ran on it (it is still traced)",
        rewrite: "nothing to rewrite if PostgreSQL accepts it; allow the code for that statement",
    },
];

/// The code named `name`.
pub fn code(name: &str) -> Option<&'static Code> {
    CODES.iter().find(|code| code.code == name)
}

/// A lock a statement took on a relation that existed before its migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lock {
    /// `schema.name` of the table, index or sequence.
    pub relation: String,
    /// `table`, `index`, `sequence`, `view`, …
    pub kind: &'static str,
    /// PostgreSQL's name, e.g. `AccessExclusiveLock`.
    pub mode: String,
    /// What the mode blocks while held, e.g. "reads, writes and DDL".
    pub blocks: &'static str,
    /// Statements after this one in the same transaction (the lock is held until commit).
    pub held_across: usize,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub verdict: Verdict,
    pub migration: String,
    /// `file:line:col` of the statement (or of the rule's node in it).
    pub location: String,
    #[serde(skip)]
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: &'static str,
    /// What the trace saw on the statement, when it saw something.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locks: Vec<Lock>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rewrites: Vec<String>,
    /// The squawk rule that reported it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// `[…metadata.migrate.safety]`: the git ref new migrations are counted from, and per-code
/// severities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SafetyConfig {
    pub since: Option<String>,
    pub severity: BTreeMap<String, Severity>,
}

impl SafetyConfig {
    /// Parses the `safety` table; the error string names what is wrong (the caller adds where).
    pub fn parse(value: &serde_json::Value) -> Result<SafetyConfig, String> {
        let serde_json::Value::Object(entries) = value else {
            return Err(
                "`safety` must be a table, e.g. `safety = { since = \"origin/main\" }`".into(),
            );
        };
        let mut config = SafetyConfig::default();
        for (key, value) in entries {
            match key.as_str() {
                "since" => {
                    config.since = Some(
                        value
                            .as_str()
                            .filter(|s| !s.trim().is_empty())
                            .ok_or("`safety.since` must be a git ref, e.g. \"origin/main\"")?
                            .to_string(),
                    )
                }
                "severity" => {
                    let serde_json::Value::Object(levels) = value else {
                        return Err("`safety.severity` must be a table of code = \"error\" | \"warning\" | \"off\"".into());
                    };
                    for (name, level) in levels {
                        if code(name).is_none() {
                            return Err(format!(
                                "`safety.severity` names an unknown finding code `{name}` (docs/safety.md lists them)"
                            ));
                        }
                        let level = level
                            .as_str()
                            .ok_or_else(|| format!("`safety.severity.{name}` must be a string"))?
                            .parse()
                            .map_err(|e: String| format!("`safety.severity.{name}`: {e}"))?;
                        config.severity.insert(name.clone(), level);
                    }
                }
                other => {
                    return Err(format!(
                        "unknown key `safety.{other}`; expected `since` or `severity`"
                    ));
                }
            }
        }
        Ok(config)
    }

    /// The severity of `code` under this configuration.
    pub fn severity_of(&self, code: &Code) -> Severity {
        self.severity
            .get(code.code)
            .copied()
            .unwrap_or(code.severity)
    }

    /// `self` with unset settings taken from `defaults` (per-code severities merge, the
    /// package's winning).
    pub fn or(self, defaults: &SafetyConfig) -> SafetyConfig {
        let mut severity = defaults.severity.clone();
        severity.extend(self.severity);
        SafetyConfig {
            since: self.since.or_else(|| defaults.since.clone()),
            severity,
        }
    }
}

/// What a lock mode blocks while it is held.
pub fn blocks(mode: &str) -> &'static str {
    match mode {
        "AccessShareLock" => "ACCESS EXCLUSIVE only (DDL)",
        "RowShareLock" => "EXCLUSIVE and ACCESS EXCLUSIVE (DDL)",
        "RowExclusiveLock" => "index builds and DDL",
        "ShareUpdateExclusiveLock" => "DDL, VACUUM and concurrent index builds",
        "ShareLock" => "writes and DDL",
        "ShareRowExclusiveLock" => "writes and DDL",
        "ExclusiveLock" => "writes, SELECT FOR UPDATE and DDL",
        "AccessExclusiveLock" => "reads, writes and DDL",
        _ => "unknown",
    }
}

/// Strength of a lock mode (PostgreSQL's numbering, 1 to 8); 0 for an unknown name.
pub fn strength(mode: &str) -> u8 {
    match mode {
        "AccessShareLock" => 1,
        "RowShareLock" => 2,
        "RowExclusiveLock" => 3,
        "ShareUpdateExclusiveLock" => 4,
        "ShareLock" => 5,
        "ShareRowExclusiveLock" => 6,
        "ExclusiveLock" => 7,
        "AccessExclusiveLock" => 8,
        _ => 0,
    }
}

/// Whether `mode` blocks writes (SHARE or stronger).
pub fn blocks_writes(mode: &str) -> bool {
    strength(mode) >= 5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case_and_name_real_squawk_rules() {
        let mut seen = std::collections::HashSet::new();
        for code in CODES {
            assert!(seen.insert(code.code), "{} twice", code.code);
            assert!(
                code.code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                code.code
            );
            for rule in code.squawk {
                assert!(
                    rule.parse::<squawk_linter::Rule>().is_ok(),
                    "{} names unknown squawk rule {rule}",
                    code.code
                );
            }
        }
    }

    #[test]
    fn lock_modes_by_what_they_block() {
        let table = [
            ("AccessShareLock", false),
            ("RowExclusiveLock", false),
            ("ShareUpdateExclusiveLock", false),
            ("ShareLock", true),
            ("ShareRowExclusiveLock", true),
            ("AccessExclusiveLock", true),
            ("Nonsense", false),
        ];
        for (mode, blocking) in table {
            assert_eq!(blocks_writes(mode), blocking, "{mode}");
        }
        assert_eq!(blocks("AccessExclusiveLock"), "reads, writes and DDL");
    }

    #[test]
    fn safety_config_parses_and_refuses() {
        let ok = serde_json::json!({"since": "origin/main", "severity": {"breaking-drop": "error", "missing-lock-timeout": "off"}});
        let config = SafetyConfig::parse(&ok).unwrap();
        assert_eq!(config.since.as_deref(), Some("origin/main"));
        assert_eq!(
            config.severity_of(code("breaking-drop").unwrap()),
            Severity::Error
        );
        assert_eq!(
            config.severity_of(code("table-rewrite").unwrap()),
            Severity::Error
        );
        for bad in [
            serde_json::json!("x"),
            serde_json::json!({"severity": {"nope": "error"}}),
            serde_json::json!({"severity": {"table-rewrite": "loud"}}),
            serde_json::json!({"since": ""}),
            serde_json::json!({"other": 1}),
        ] {
            assert!(SafetyConfig::parse(&bad).is_err(), "{bad}");
        }
    }
}
