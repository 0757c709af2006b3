//! Database URLs: which dialect they name, and how to show them without their secrets.

use std::fmt;

use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode, Result};
use crate::secrets;

/// A database URL. Its `Debug` and `Display` show the redacted form; only [`expose`] gives
/// the real text, for the driver.
///
/// [`expose`]: DatabaseUrl::expose
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    raw: String,
    redacted: String,
    dialect: Dialect,
}

/// Query parameters that carry secrets in libpq/sqlx URLs.
const SECRET_PARAMS: &[&str] = &["password", "sslpassword", "passfile_password"];

impl DatabaseUrl {
    /// Parses `text`; `source` names where it came from (`--database-url`, `DATABASE_URL`,
    /// `.env`) for errors. Every secret it contains is registered with [`secrets`] so no
    /// output can print it.
    pub fn parse(text: &str, source: &str) -> Result<DatabaseUrl> {
        const EXAMPLES: &str =
            "use postgres://user@host/db, sqlite:path/to/file.db, or mysql://user@host/db";
        let text = text.trim();
        if text.is_empty() {
            return Err(
                Error::input(ErrorCode::BadDatabaseUrl, "the database URL is empty")
                    .at(source)
                    .hint(EXAMPLES),
            );
        }
        let scheme = text
            .split_once(':')
            .map(|(s, _)| s.to_ascii_lowercase())
            .filter(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            });
        let dialect = match scheme.as_deref() {
            Some("postgres" | "postgresql") => Dialect::Postgres,
            Some("sqlite") => Dialect::Sqlite,
            Some("mysql" | "mariadb") => Dialect::Mysql,
            None => {
                // Not a URL at all; it could be anything, a bare password included: show none of it.
                secrets::register_in(text);
                return Err(Error::input(
                    ErrorCode::BadDatabaseUrl,
                    "the database URL has no scheme (such as postgres:// or sqlite:)",
                )
                .at(source)
                .hint(EXAMPLES));
            }
            _ => {
                // Only the scheme is shown: the rest may hold a password.
                secrets::register_in(text);
                return Err(Error::input(
                    ErrorCode::BadDatabaseUrl,
                    format!(
                        "the database URL has an unknown scheme: `{}`",
                        scheme_or_prefix(text)
                    ),
                )
                .at(source)
                .hint(EXAMPLES));
            }
        };
        let redacted = match dialect {
            Dialect::Sqlite => secrets::redact_value(text),
            _ => {
                let after_scheme = text.split_once(':').map_or("", |(_, rest)| rest);
                if !after_scheme.starts_with("//") {
                    // `postgres:user:pw@host/db` would connect to the default host, taking all
                    // of it for a database name (and show the password as one).
                    secrets::register_in(text);
                    return Err(Error::input(
                        ErrorCode::BadDatabaseUrl,
                        "the database URL has no `//` after its scheme",
                    )
                    .at(source)
                    .hint("write it as scheme://user:password@host:port/database"));
                }
                // `postgres://u:pa/ss@h/db` ends its host at the `/`: a password with an
                // unencoded `/`, `?` or `#` reads as a port (invalid) or, with digits
                // (`u:12/x@h/db`), as another host, port and database.
                let unencoded = || {
                    secrets::register_in(text);
                    Error::input(
                        ErrorCode::BadDatabaseUrl,
                        "the database URL has an `@` after its host: is a `/`, `?` or `#` in the password not percent-encoded?",
                    )
                    .at(source)
                    .hint("in a password write `/` as `%2F`, `?` as `%3F`, `#` as `%23` and `@` as `%40`; elsewhere write `@` as `%40`")
                };
                let parsed = url::Url::parse(text).map_err(|err| {
                    if secrets::url_password(text).is_some_and(|pw| pw.contains(['/', '?', '#'])) {
                        return unencoded();
                    }
                    secrets::register_in(text);
                    Error::input(
                        ErrorCode::BadDatabaseUrl,
                        format!("the database URL is not valid: {err}"),
                    )
                    .at(source)
                    .hint("check the URL's syntax: scheme://user:password@host:port/database; percent-encode special characters in the password")
                })?;
                let redacted = register_and_redact(text, &parsed);
                if parsed.password().is_none() && secrets::url_password(text).is_some() {
                    return Err(unencoded());
                }
                if let Some(part) = bad_percent_escape(&parsed) {
                    return Err(Error::input(
                        ErrorCode::BadDatabaseUrl,
                        format!("the database URL's {part} has a `%` that does not start a percent-escape (%XX)"),
                    )
                    .at(source)
                    .hint("write a literal `%` as `%25` (and `@` as `%40`, `/` as `%2F`, `:` as `%3A`)"));
                }
                redacted
            }
        };
        check_driver_options(text, dialect).map_err(|reason| {
            let hint = match dialect {
                Dialect::Sqlite => "check the URL's query parameters, e.g. mode=ro, rw or rwc",
                _ => "check the URL's query parameters, e.g. sslmode=disable, prefer, require, verify-ca or verify-full",
            };
            Error::input(
                ErrorCode::BadDatabaseUrl,
                format!("the database URL is not valid: {reason}"),
            )
            .at(source)
            .hint(hint)
        })?;
        Ok(DatabaseUrl {
            raw: text.to_string(),
            redacted,
            dialect,
        })
    }

    /// A disposable database's URL, made by cargo-migrate itself: its fixed password is not a
    /// secret, but is shown redacted like any other, so no URL is ever printed with one.
    pub fn sandbox(url: &str, dialect: Dialect) -> DatabaseUrl {
        DatabaseUrl {
            raw: url.to_string(),
            redacted: secrets::redact_value(url),
            dialect,
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The URL for the driver. Never print this.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// `host:port` (or the socket directory) of a server URL, for connection errors.
    pub fn endpoint(&self) -> String {
        if self.dialect == Dialect::Sqlite {
            return sqlite_path(&self.raw).to_string();
        }
        let Ok(parsed) = url::Url::parse(&self.raw) else {
            return self.redacted.clone();
        };
        if let Some((_, socket_dir)) = parsed.query_pairs().find(|(k, _)| k == "host") {
            return format!("socket {socket_dir}");
        }
        let default_port = match self.dialect {
            Dialect::Mysql => 3306,
            _ => 5432,
        };
        format!(
            "{}:{}",
            parsed
                .host_str()
                .filter(|h| !h.is_empty())
                .unwrap_or("localhost"),
            parsed.port().unwrap_or(default_port)
        )
    }

    /// Whether the server is on this machine (loopback, unix socket, or a SQLite file).
    pub fn is_local(&self) -> bool {
        if self.dialect == Dialect::Sqlite {
            return true;
        }
        let Ok(parsed) = url::Url::parse(&self.raw) else {
            return false;
        };
        if parsed
            .query_pairs()
            .any(|(k, v)| k == "host" && v.starts_with('/'))
        {
            return true;
        }
        // For `postgres:` URLs the url crate keeps the host as opaque text, IPs included.
        let host = parsed.host_str().unwrap_or("");
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.is_empty()
            || host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// The path of a `sqlite:` URL (`sqlite:app.db`, `sqlite://app.db`, `sqlite:///abs/app.db`),
/// without query parameters.
pub fn sqlite_path(url: &str) -> &str {
    let rest = url.split_once(':').map_or(url, |(_, rest)| rest);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    rest.split('?').next().unwrap_or(rest)
}

/// The URL as shown: [`secrets::redact_value`] of the text as written, after registering the
/// password and secret parameters the URL parser found, so the formatter ends each exactly
/// where the driver will (an `@` in a later parameter is not part of the password).
fn register_and_redact(text: &str, parsed: &url::Url) -> String {
    if let Some(password) = parsed.password() {
        secrets::register(password);
        // Also the decoded form: drivers and servers may echo either.
        if let Some(decoded) = secrets::percent_decoded(password) {
            secrets::register(&decoded);
        }
    }
    for (key, value) in parsed.query_pairs() {
        if SECRET_PARAMS.contains(&key.as_ref()) {
            secrets::register(&value);
        }
    }
    secrets::redact_value(text)
}

/// The part of the URL (password, user name, database name, parameters) holding a `%` that is
/// not followed by two hex digits, which drivers would pass on or decode differently.
fn bad_percent_escape(parsed: &url::Url) -> Option<&'static str> {
    let bad = |text: &str| {
        let bytes = text.as_bytes();
        bytes.iter().enumerate().any(|(i, b)| {
            *b == b'%'
                && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        })
    };
    [
        ("password", parsed.password().unwrap_or("")),
        ("user name", parsed.username()),
        ("database name", parsed.path()),
        ("parameters", parsed.query().unwrap_or("")),
    ]
    .into_iter()
    .find(|(_, text)| bad(text))
    .map(|(part, _)| part)
}

/// What the driver says of the URL's options (an unknown `sslmode`, a bad SQLite `mode`), so
/// a typo is a bad URL (exit 2) rather than a failed connection. MySQL is not driven yet.
fn check_driver_options(text: &str, dialect: Dialect) -> std::result::Result<(), String> {
    use std::str::FromStr;
    let result = match dialect {
        Dialect::Postgres => sqlx::postgres::PgConnectOptions::from_str(text).map(|_| ()),
        Dialect::Sqlite => sqlx::sqlite::SqliteConnectOptions::from_str(text).map(|_| ()),
        Dialect::Mysql => Ok(()),
    };
    result.map_err(|err| {
        let mut reason = err.to_string();
        while let Some(rest) = reason.strip_prefix("error with configuration: ") {
            reason = rest.to_string();
        }
        secrets::redact(&reason)
    })
}

/// The scheme part of a URL for an error message, or the first few characters.
fn scheme_or_prefix(text: &str) -> String {
    match text.split_once(':') {
        Some((scheme, _)) if !scheme.is_empty() => format!("{scheme}:"),
        _ => text.chars().take(12).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_from_scheme() {
        assert_eq!(
            DatabaseUrl::parse("postgres://a@h/db", "x")
                .unwrap()
                .dialect(),
            Dialect::Postgres
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://h/db", "x")
                .unwrap()
                .dialect(),
            Dialect::Postgres
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:app.db", "x").unwrap().dialect(),
            Dialect::Sqlite
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://app.db", "x")
                .unwrap()
                .dialect(),
            Dialect::Sqlite
        );
        let err = DatabaseUrl::parse("oracle://u:pw@h/db", "--database-url").unwrap_err();
        assert_eq!(err.code, ErrorCode::BadDatabaseUrl);
        assert_eq!(
            err.message,
            "the database URL has an unknown scheme: `oracle:`"
        );
        assert_eq!(err.location.as_deref(), Some("--database-url"));
    }

    #[test]
    fn passwords_are_redacted_and_registered() {
        let url = DatabaseUrl::parse(
            "postgres://app:s3cr%40t-pw@db.internal:6543/app?sslmode=require",
            "x",
        )
        .unwrap();
        assert_eq!(
            url.redacted(),
            "postgres://app:***@db.internal:6543/app?sslmode=require"
        );
        assert_eq!(
            format!("{url:?}"),
            "DatabaseUrl(postgres://app:***@db.internal:6543/app?sslmode=require)"
        );
        assert_eq!(url.to_string(), url.redacted());
        // The parser's password is known, so a message echoing the URL decoded (with an `@`
        // in the password) is redacted exactly; the same word elsewhere is left alone.
        assert_eq!(
            secrets::redact("at postgres://app:s3cr@t-pw@db.internal/app?x=a@b, s3cr@t-pw"),
            "at postgres://app:***@db.internal/app?x=a@b, s3cr@t-pw"
        );
        let url = DatabaseUrl::parse("postgres://h/db?user=a&password=qp-secret-1", "x").unwrap();
        assert_eq!(url.redacted(), "postgres://h/db?user=a&password=***");
        assert_eq!(secrets::redact("password=qp-secret-1 x"), "password=*** x");
    }

    #[test]
    fn unparsable_urls_still_hide_their_password() {
        let err = DatabaseUrl::parse("postgres://app:unparsable-pw@[bad/db", "x").unwrap_err();
        assert_eq!(err.code, ErrorCode::BadDatabaseUrl);
        assert_eq!(
            secrets::redact("postgres://app:unparsable-pw@[bad/db"),
            "postgres://app:***@[bad/db"
        );
    }

    #[test]
    fn endpoints_and_locality() {
        let url = DatabaseUrl::parse("postgres://u@db.example.com/app", "x").unwrap();
        assert_eq!(url.endpoint(), "db.example.com:5432");
        assert!(!url.is_local());
        let url = DatabaseUrl::parse("postgres://u@127.0.0.1:5433/app", "x").unwrap();
        assert_eq!(url.endpoint(), "127.0.0.1:5433");
        assert!(url.is_local());
        let url =
            DatabaseUrl::parse("postgres://postgres@localhost/db?host=/dev/shm/x", "x").unwrap();
        assert_eq!(url.endpoint(), "socket /dev/shm/x");
        assert!(url.is_local());
        let url = DatabaseUrl::parse("postgresql://u@[::1]/app", "x").unwrap();
        assert!(url.is_local());
        let url = DatabaseUrl::parse("postgres://u@10.0.0.7/app", "x").unwrap();
        assert!(!url.is_local());
        let url = DatabaseUrl::parse("sqlite://data/app.db?mode=rwc", "x").unwrap();
        assert_eq!(url.endpoint(), "data/app.db");
        assert!(url.is_local());
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(sqlite_path("sqlite:app.db"), "app.db");
        assert_eq!(sqlite_path("sqlite://app.db?mode=rwc"), "app.db");
        assert_eq!(sqlite_path("sqlite:///tmp/app.db"), "/tmp/app.db");
    }

    #[test]
    fn malformed_urls_are_bad_input() {
        let message = |text: &str| {
            let err = DatabaseUrl::parse(text, "x").unwrap_err();
            assert_eq!(err.code, ErrorCode::BadDatabaseUrl, "{text}");
            err.message
        };
        assert_eq!(message("  "), "the database URL is empty");
        assert!(message("hunter2").contains("no scheme"));
        assert!(!message("hunter2").contains("hunter2"));
        assert!(message("postgres://u:50%off@h/db").contains("password"));
        // The `//` forgotten, or a password with an unencoded `/`, `?` or `#`: refused
        // without showing it (it would otherwise name another host, port or database).
        for text in [
            "postgres:user:pw-1@host/db",
            "postgres://u:12/pw-1@h/db",
            "postgres://u:12?pw-1@h/db",
            "postgres://u:12#pw-1@h/db",
            "postgres://u:pw/1@h/db",
        ] {
            let message = message(text);
            assert!(
                !message.contains("pw-1") && !message.contains("pw/1"),
                "{text}: {message}"
            );
        }
        assert!(message("postgres://u@h/db%zz").contains("database name"));
        assert!(message("postgres://u@h/db?sslmode=required").contains("ssl_mode"));
        assert!(message("sqlite:app.db?mode=bogus").contains("mode"));
        // Proper escapes and options pass.
        DatabaseUrl::parse("postgres://u:50%25off@h/db?sslmode=require", "x").unwrap();
        DatabaseUrl::parse("sqlite:app.db?mode=rwc", "x").unwrap();
    }
}
