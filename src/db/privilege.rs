//! A role lacking a privilege cargo-migrate's own bookkeeping needs (CREATE on the history
//! table's schema, rights on the history table): named, with the statement that grants it.
//! Retrying cannot fix it, so it is an input error (`insufficient-privilege`, exit 2), not
//! the retryable exit 3 of an unreachable database.

use crate::error::{Error, ErrorCode};

/// What the role lacks and the statement that fixes it, read from PostgreSQL's message
/// (`permission denied for schema public`, `… for table _cargo_migrate`, `must be owner of
/// table …`). `None` when the message is not one of these (another server language, say).
pub(crate) fn grant_for(message: &str, role: &str) -> Option<(String, String)> {
    let role = quote(role);
    if let Some(schema) = message.strip_prefix("permission denied for schema ") {
        let schema = quote(schema);
        return Some((
            format!("USAGE and CREATE on schema {schema}"),
            format!("GRANT USAGE, CREATE ON SCHEMA {schema} TO {role}"),
        ));
    }
    if let Some(table) = message.strip_prefix("permission denied for table ") {
        let table = quote(table);
        return Some((
            format!("SELECT, INSERT, UPDATE and DELETE on table {table}"),
            format!("GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role}"),
        ));
    }
    if let Some(sequence) = message.strip_prefix("permission denied for sequence ") {
        let sequence = quote(sequence);
        return Some((
            format!("USAGE on sequence {sequence}"),
            format!("GRANT USAGE, SELECT ON SEQUENCE {sequence} TO {role}"),
        ));
    }
    if let Some(table) = message.strip_prefix("must be owner of table ") {
        let table = quote(table);
        return Some((
            format!("the ownership of table {table}"),
            format!("ALTER TABLE {table} OWNER TO {role}"),
        ));
    }
    None
}

/// The error of a statement of ours the server refused for want of a privilege or of
/// ownership (both SQLSTATE 42501 insufficient_privilege); `None` for any other error. `role`: the role cargo-migrate logged in as, when known.
pub(crate) fn refused(context: &str, err: &sqlx::Error, role: Option<&str>) -> Option<Error> {
    let sqlx::Error::Database(db) = err else {
        return None;
    };
    if db.code().as_deref() != Some("42501") {
        return None;
    }
    let message = db.message();
    let hint = match role.and_then(|role| Some((role, grant_for(message, role)?))) {
        Some((role, (privilege, grant))) => format!(
            "the role `{}` lacks {privilege}: as its owner (or a superuser) run `{grant}`, or run migrations as the role that owns the schema",
            crate::report::printable(role)
        ),
        None => "run migrations as the role that owns the schema, or grant this one what the history table needs (e.g. GRANT USAGE, CREATE ON SCHEMA public TO it)".to_string(),
    };
    Some(
        Error::input(
            ErrorCode::InsufficientPrivilege,
            format!("{context}: {}", super::driver_reason(err)),
        )
        .hint(hint),
    )
}

/// `name` as a SQL identifier: bare when PostgreSQL would read it back unchanged.
pub(crate) fn quote(name: &str) -> String {
    let bare = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if bare {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_map_to_the_grant_that_fixes_them() {
        let table: &[(&str, &str, Option<&str>)] = &[
            (
                "permission denied for schema public",
                "deployer",
                Some("GRANT USAGE, CREATE ON SCHEMA public TO deployer"),
            ),
            (
                "permission denied for schema App",
                "Deploy Bot",
                Some("GRANT USAGE, CREATE ON SCHEMA \"App\" TO \"Deploy Bot\""),
            ),
            (
                "permission denied for table _cargo_migrate",
                "deployer",
                Some("GRANT SELECT, INSERT, UPDATE, DELETE ON _cargo_migrate TO deployer"),
            ),
            (
                "must be owner of table _sqlx_migrations",
                "app_migrator",
                Some("ALTER TABLE _sqlx_migrations OWNER TO app_migrator"),
            ),
            (
                "permission denied for sequence __seq",
                "x",
                Some("GRANT USAGE, SELECT ON SEQUENCE __seq TO x"),
            ),
            ("keine Berechtigung für Schema public", "deployer", None),
            ("permission denied to create database", "deployer", None),
        ];
        for (message, role, grant) in table {
            assert_eq!(
                grant_for(message, role).map(|(_, grant)| grant).as_deref(),
                *grant,
                "{message}"
            );
        }
    }
}
