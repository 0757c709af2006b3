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
    /// `pgbouncer=true`: a pooler stands between us and the server (see [`Self::pooled`]).
    pooled: bool,
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
                // libpq's multi-host form (Patroni, managed clusters): one server is connected
                // to, and the URL must say which; checked first, as `h1:5432,h2` is no port.
                if dialect == Dialect::Postgres
                    && let Some(hosts) = super::pg_params::several_hosts(text)
                {
                    secrets::register_in(text);
                    return Err(Error::input(
                        ErrorCode::BadDatabaseUrl,
                        format!(
                            "the database URL names several hosts (`{}`): cargo-migrate connects to one server",
                            secrets::redact(&hosts)
                        ),
                    )
                    .at(source)
                    .hint("point it at the primary alone: the read-write endpoint of the managed cluster, or Patroni's primary service; a standby is refused anyway"));
                }
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
        if dialect == Dialect::Postgres {
            super::pg_params::check(text).map_err(|(reason, hint)| {
                Error::input(
                    ErrorCode::BadDatabaseUrl,
                    format!("the database URL is not valid: {reason}"),
                )
                .at(source)
                .hint(hint)
            })?;
        }
        if dialect == Dialect::Sqlite {
            sqlite_database(text).map_err(|(reason, hint)| {
                Error::input(ErrorCode::BadDatabaseUrl, reason)
                    .at(source)
                    .hint(hint)
            })?;
        }
        let pooled = match dialect {
            Dialect::Postgres => pgbouncer_param(text).map_err(|value| {
                Error::input(
                    ErrorCode::BadDatabaseUrl,
                    format!("the database URL's `pgbouncer` parameter is `{value}`, not true or false"),
                )
                .at(source)
                .hint("write pgbouncer=true when the URL names a connection pooler (PgBouncer, Supavisor, RDS Proxy…), else leave it out")
            })?,
            _ => false,
        };
        Ok(DatabaseUrl {
            raw: text.to_string(),
            redacted,
            dialect,
            pooled,
        })
    }

    /// A disposable database's URL, made by cargo-migrate itself: its fixed password is not a
    /// secret, but is shown redacted like any other, so no URL is ever printed with one.
    pub fn sandbox(url: &str, dialect: Dialect) -> DatabaseUrl {
        DatabaseUrl {
            raw: url.to_string(),
            redacted: secrets::redact_value(url),
            dialect,
            pooled: false,
        }
    }

    /// Whether the URL says a connection pooler stands between us and the server
    /// (`pgbouncer=true`, Prisma's spelling): then nothing may rely on session state — the
    /// next transaction may run on another server connection — so the run lock is taken per
    /// transaction and every query is a simple query (see docs/deploy.md, "Poolers").
    /// sqlx ignores the parameter, so an application may share the URL.
    pub fn pooled(&self) -> bool {
        self.pooled
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

    /// A PostgreSQL URL's `connect_timeout` (libpq's parameter, which sqlx ignores): it
    /// bounds each connection attempt instead of `--connect-timeout`.
    pub fn connect_timeout(&self) -> Option<std::time::Duration> {
        match self.dialect {
            Dialect::Postgres => super::pg_params::connect_timeout(&self.raw),
            _ => None,
        }
    }

    /// Whether the URL asks for a primary (`target_session_attrs=read-write`/`primary`):
    /// then even read-only commands refuse a standby.
    pub fn requires_primary(&self) -> bool {
        self.dialect == Dialect::Postgres && super::pg_params::requires_primary(&self.raw)
    }

    /// The driver's connection options for a PostgreSQL URL, exactly as the session connects
    /// with them: the URL, its `host`/`hostaddr`/`port` parameters (the last one wins) and the
    /// `PG*` environment variables sqlx reads. An IPv6 literal host is handed over without its
    /// brackets: sqlx passes the URL's host text to the resolver as is, and `[::1]` is no
    /// name it can resolve.
    pub fn pg_options(&self) -> std::result::Result<sqlx::postgres::PgConnectOptions, sqlx::Error> {
        use std::str::FromStr;
        let options = sqlx::postgres::PgConnectOptions::from_str(&self.raw)?;
        let host = options.get_host();
        match host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .map(str::to_string)
        {
            Some(unbracketed) => Ok(options.host(&unbracketed)),
            None => Ok(options),
        }
    }

    /// Where the driver will connect (see [`pg_options`](Self::pg_options)); for SQLite, the
    /// file.
    pub fn connect_target(&self) -> ConnectTarget {
        match self.dialect {
            Dialect::Sqlite => match sqlite_database(&self.raw) {
                Ok(SqliteDatabase::File(path)) => {
                    ConnectTarget::File(path.to_string_lossy().into_owned())
                }
                Ok(SqliteDatabase::Memory) => ConnectTarget::File(":memory:".to_string()),
                Err(_) => ConnectTarget::Unknown(self.redacted.clone()),
            },
            Dialect::Postgres => match self.pg_options() {
                Ok(options) => target_of(&options),
                // Not reached for a parsed URL (parse checks the options); nothing to show
                // but the redacted URL.
                Err(_) => ConnectTarget::Unknown(self.redacted.clone()),
            },
            Dialect::Mysql => {
                let Ok(parsed) = url::Url::parse(&self.raw) else {
                    return ConnectTarget::Unknown(self.redacted.clone());
                };
                ConnectTarget::Tcp {
                    host: unbracket(parsed.host_str().unwrap_or("")).to_string(),
                    port: parsed.port().unwrap_or(3306),
                }
            }
        }
    }

    /// `host:port` (or the socket directory) the driver connects to, for messages.
    pub fn endpoint(&self) -> String {
        self.connect_target().to_string()
    }

    /// Whether the database is on this machine, decided from the effective connection target
    /// (see [`connect_target`](Self::connect_target)) before anything connects. Every guard in
    /// front of a destructive command asks this, never the URL's host alone.
    pub fn locality(&self) -> Locality {
        locality_of(&self.connect_target(), &system_resolver)
    }

    /// Whether the database is on this machine: [`locality`](Self::locality) without the why.
    pub fn is_local(&self) -> bool {
        self.locality().is_local()
    }
}

/// Where a driver connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectTarget {
    /// A SQLite database file (or `:memory:`), as the URL names it.
    File(String),
    /// A Unix-domain socket in this directory (`.s.PGSQL.<port>` in it).
    Socket { dir: std::path::PathBuf, port: u16 },
    /// A TCP connection; `host` is a name or an IP address without brackets.
    Tcp { host: String, port: u16 },
    /// The URL could not be read as the driver reads it (shown redacted).
    Unknown(String),
}

impl fmt::Display for ConnectTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectTarget::File(path) => f.write_str(path),
            ConnectTarget::Socket { dir, .. } => write!(f, "socket {}", dir.display()),
            ConnectTarget::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            ConnectTarget::Tcp { host, port } => write!(f, "{host}:{port}"),
            ConnectTarget::Unknown(shown) => f.write_str(shown),
        }
    }
}

/// Whether a connection target is on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locality {
    Local,
    /// Not provably on this machine, and why (for the refusal message).
    Remote(String),
}

impl Locality {
    pub fn is_local(&self) -> bool {
        *self == Locality::Local
    }
}

/// The target sqlx connects to with `options`, mirroring `PgStream::connect`: a socket
/// directory when one is set (a `host=/dir` parameter or a URL host starting with `/` sets it,
/// and a later non-path `host` does not unset it), else a host starting with `/` (from
/// `PGHOST`, or sqlx's default) is a socket directory too, else TCP to host and port.
fn target_of(options: &sqlx::postgres::PgConnectOptions) -> ConnectTarget {
    let port = options.get_port();
    if let Some(dir) = options.get_socket() {
        return ConnectTarget::Socket {
            dir: dir.clone(),
            port,
        };
    }
    let host = options.get_host();
    if host.starts_with('/') {
        return ConnectTarget::Socket {
            dir: host.into(),
            port,
        };
    }
    ConnectTarget::Tcp {
        host: host.to_string(),
        port,
    }
}

fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Resolves a host name as the driver's TCP connect does (`getaddrinfo`).
fn system_resolver(host: &str, port: u16) -> std::io::Result<Vec<std::net::IpAddr>> {
    use std::net::ToSocketAddrs;
    Ok((host, port)
        .to_socket_addrs()?
        .map(|address| address.ip())
        .collect())
}

/// Whether `target` is on this machine; names are looked up with `resolve`.
///
/// Local: a SQLite file, a Unix socket, a loopback address (127.0.0.0/8, `::1`, and IPv4 ones
/// mapped into IPv6), the unspecified address (`0.0.0.0`, `::`: Linux connects those to this
/// machine), the IPv4 shorthands `inet_aton` accepts (`127.1`, `0x7f.1`, `2130706433`), the
/// name `localhost` (with or without its final dot), and a name every address of which is
/// local. Anything else is remote, a name that cannot be resolved included; names under
/// `.invalid` are never looked up (RFC 6761: they must not resolve).
fn locality_of(
    target: &ConnectTarget,
    resolve: &dyn Fn(&str, u16) -> std::io::Result<Vec<std::net::IpAddr>>,
) -> Locality {
    let (host, port) = match target {
        ConnectTarget::File(_) | ConnectTarget::Socket { .. } => return Locality::Local,
        ConnectTarget::Unknown(_) => {
            return Locality::Remote("its connection target cannot be read".to_string());
        }
        ConnectTarget::Tcp { host, port } => (unbracket(host), *port),
    };
    if let Some(ip) = numeric_address(host) {
        return if is_local_address(ip) {
            Locality::Local
        } else {
            Locality::Remote(format!("{ip} is not an address of this machine"))
        };
    }
    let name = host.to_ascii_lowercase();
    let name = name.strip_suffix('.').unwrap_or(&name);
    if name == "localhost" {
        return Locality::Local;
    }
    if name.is_empty() {
        return Locality::Remote("the host name is empty".to_string());
    }
    if name == "invalid" || name.ends_with(".invalid") {
        return Locality::Remote(format!("`{host}` cannot be resolved"));
    }
    match resolve(host, port) {
        Err(_) => Locality::Remote(format!("`{host}` cannot be resolved")),
        Ok(addresses) if addresses.is_empty() => {
            Locality::Remote(format!("`{host}` cannot be resolved"))
        }
        Ok(addresses) => match addresses.iter().find(|ip| !is_local_address(**ip)) {
            None => Locality::Local,
            Some(ip) => Locality::Remote(format!("`{host}` resolves to {ip}")),
        },
    }
}

/// An IP address written as one: an IPv6 or dotted-quad literal, or one of the IPv4 forms
/// `inet_aton` (and so `getaddrinfo`) accepts: `a.b.c.d`, `a.b.c`, `a.b`, `a`, each part
/// decimal, octal (`0…`) or hex (`0x…`), the last part filling the remaining bytes.
fn numeric_address(host: &str) -> Option<std::net::IpAddr> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Some(ip);
    }
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for part in &parts {
        let (digits, radix) =
            if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
                (hex, 16)
            } else if part.len() > 1 && part.starts_with('0') {
                (&part[1..], 8)
            } else {
                (*part, 10)
            };
        if digits.is_empty() && radix != 16 {
            return None;
        }
        let value = if digits.is_empty() {
            0
        } else {
            u32::from_str_radix(digits, radix).ok()?
        };
        values.push(value);
    }
    let (last, leading) = values.split_last()?;
    if leading.iter().any(|v| *v > 255) {
        return None;
    }
    let last_bits = 8 * (4 - leading.len() as u32);
    if last_bits < 32 && *last >= 1 << last_bits {
        return None;
    }
    let mut address: u32 = 0;
    for (i, value) in leading.iter().enumerate() {
        address |= value << (24 - 8 * i as u32);
    }
    address |= last;
    Some(std::net::IpAddr::V4(std::net::Ipv4Addr::from(address)))
}

/// Loopback or unspecified, IPv4 ones mapped into IPv6 included.
fn is_local_address(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_unspecified(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.is_loopback() || v4.is_unspecified(),
            None => v6.is_loopback() || v6.is_unspecified(),
        },
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

/// The database a `sqlite:` URL opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteDatabase {
    /// A file on this machine (it may not exist yet); relative to the current directory.
    File(std::path::PathBuf),
    /// An in-memory database: it lives as long as the connection.
    Memory,
}

impl DatabaseUrl {
    /// The database a SQLite URL opens (see [`sqlite_database`]); `None` for other dialects.
    pub fn sqlite_database(&self) -> Option<SqliteDatabase> {
        match self.dialect {
            Dialect::Sqlite => sqlite_database(&self.raw).ok(),
            _ => None,
        }
    }
}

/// The database a `sqlite:` URL opens, read as the driver reads it: sqlx drops `sqlite://` or
/// `sqlite:`, takes what comes before the first `?` as the file name (percent-decoded) and
/// the rest as its own options (`mode=memory` makes it in-memory), and hands the name to
/// SQLite with URIs enabled, so a name starting with `file:` is a SQLite URI: `file:rel.db`,
/// `file:/abs.db`, `file:///abs.db`, `file://localhost/abs.db` (its path percent-decoded
/// again, a `#fragment` ignored). The error says what is wrong with the URL, naming the path:
/// no file at all (`sqlite:`, an unset variable expanded to nothing: SQLite would open a
/// private temporary database and persist nothing), a URI naming another host, or a path that
/// exists and is not a regular file (a directory, or a device or FIFO such as `/dev/null`,
/// on which SQLite blocks or fails).
/// The error is the reason and a hint.
pub fn sqlite_database(url: &str) -> std::result::Result<SqliteDatabase, (String, &'static str)> {
    use std::str::FromStr;
    const FORMS: &str = "write sqlite:path/to/app.db, sqlite:///absolute/path.db or sqlite:file:/absolute/path.db?mode=rwc (the file is created by commands that change the database)";
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .map_err(|err| (err.to_string(), FORMS))?;
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let params = rest.split_once('?').map_or("", |(_, params)| params);
    let in_memory = url::form_urlencoded::parse(params.as_bytes())
        .any(|(key, value)| key == "mode" && value == "memory");
    let name = options.get_filename().to_string_lossy().into_owned();
    if in_memory || name.starts_with("file:sqlx-in-memory-") {
        return Ok(SqliteDatabase::Memory);
    }
    let path = match name.strip_prefix("file:") {
        None => name.clone(),
        Some(uri) => {
            let uri = uri.split(['?', '#']).next().unwrap_or(uri);
            let path = match uri.strip_prefix("//") {
                None => uri,
                Some(authority_and_path) => {
                    let (authority, path) = authority_and_path
                        .find('/')
                        .map_or((authority_and_path, ""), |at| {
                            authority_and_path.split_at(at)
                        });
                    if !authority.is_empty() && !authority.eq_ignore_ascii_case("localhost") {
                        return Err((
                            format!(
                                "the SQLite URI `{name}` names the host `{authority}`: SQLite opens only files on this machine"
                            ),
                            FORMS,
                        ));
                    }
                    path
                }
            };
            let decoded = decode_path(path).map_err(|_| {
                (
                    format!("the SQLite URI `{name}` decodes to a path that is not UTF-8"),
                    FORMS,
                )
            })?;
            if decoded == ":memory:" {
                return Ok(SqliteDatabase::Memory);
            }
            decoded
        }
    };
    if path.is_empty() {
        return Err((
            "the SQLite URL names no database file (was it built from a variable that is not set?)"
                .to_string(),
            FORMS,
        ));
    }
    let path = std::path::PathBuf::from(path);
    if let Ok(metadata) = std::fs::metadata(&path)
        && !metadata.is_file()
    {
        let what = special_file_kind(&metadata.file_type());
        return Err((
            format!(
                "the SQLite database `{}` is {what}, not a database file",
                path.display()
            ),
            "point the URL at a SQLite database file, or at a path where one may be created",
        ));
    }
    Ok(SqliteDatabase::File(path))
}

/// What a path that is not a regular file is, for an error.
fn special_file_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() {
            return "a character device";
        } else if kind.is_block_device() {
            return "a block device";
        } else if kind.is_fifo() {
            return "a FIFO";
        } else if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
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

/// The `pgbouncer` query parameter of a PostgreSQL URL (the last one wins, like the driver's
/// parameters): `Err` with the value when it is neither true nor false.
fn pgbouncer_param(text: &str) -> std::result::Result<bool, String> {
    let Ok(parsed) = url::Url::parse(text) else {
        return Ok(false);
    };
    let mut pooled = false;
    for (key, value) in parsed.query_pairs() {
        if key == "pgbouncer" {
            pooled = match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => return Err(secrets::redact(&value)),
            };
        }
    }
    Ok(pooled)
}

/// `text` with its percent-escapes decoded (itself when it has none); an error when the
/// result is not UTF-8.
fn decode_path(text: &str) -> std::result::Result<String, ()> {
    if !text.contains('%') {
        return Ok(text.to_string());
    }
    secrets::percent_decoded(text).ok_or(())
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
    fn pgbouncer_parameter_says_whether_a_pooler_is_in_between() {
        for (url, expected) in [
            ("postgres://a@h/db", Some(false)),
            ("postgres://a@h/db?pgbouncer=true", Some(true)),
            ("postgres://a@h/db?sslmode=disable&pgbouncer=1", Some(true)),
            ("postgres://a@h/db?pgbouncer=TRUE", Some(true)),
            ("postgres://a@h/db?pgbouncer=false", Some(false)),
            (
                "postgres://a@h/db?pgbouncer=true&pgbouncer=false",
                Some(false),
            ),
            ("postgres://a@h/db?pgbouncer=maybe", None),
            ("postgres://a@h/db?pgbouncer=", None),
        ] {
            match DatabaseUrl::parse(url, "x") {
                Ok(parsed) => assert_eq!(Some(parsed.pooled()), expected, "{url}"),
                Err(err) => {
                    assert_eq!(expected, None, "{url}: {err:?}");
                    assert_eq!(err.code, ErrorCode::BadDatabaseUrl);
                    assert!(err.message.contains("`pgbouncer`"), "{}", err.message);
                }
            }
        }
        let sqlite = DatabaseUrl::parse("sqlite:app.db?pgbouncer=true", "x");
        assert!(sqlite.map_or(true, |url| !url.pooled()));
    }

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
    fn endpoints() {
        let endpoint = |text: &str| DatabaseUrl::parse(text, "x").unwrap().endpoint();
        with_pg_env(&[], || {
            assert_eq!(
                endpoint("postgres://u@db.example.com/app"),
                "db.example.com:5432"
            );
            assert_eq!(
                endpoint("postgres://u@127.0.0.1:5433/app"),
                "127.0.0.1:5433"
            );
            assert_eq!(endpoint("postgres://u@[::1]:5433/app"), "[::1]:5433");
            assert_eq!(
                endpoint("postgres://postgres@localhost/db?host=/dev/shm/x"),
                "socket /dev/shm/x"
            );
            assert_eq!(
                endpoint("postgres://u@localhost/db?host=db.example.com&port=6000"),
                "db.example.com:6000"
            );
            assert_eq!(endpoint("sqlite://data/app.db?mode=rwc"), "data/app.db");
            assert_eq!(endpoint("sqlite:file:/tmp/x.db?mode=rwc"), "/tmp/x.db");
        });
        with_pg_env(&[("PGPORT", "6001")], || {
            assert_eq!(endpoint("postgres://u@localhost/app"), "localhost:6001");
        });
    }

    /// The driver is handed the IPv6 literal without brackets: with them, the resolver is
    /// asked for a host named `[::1]` ("Name or service not known").
    #[test]
    fn ipv6_literals_reach_the_driver_unbracketed() {
        with_pg_env(&[], || {
            let url = DatabaseUrl::parse("postgres://u@[::1]:6543/app", "x").unwrap();
            let options = url.pg_options().unwrap();
            assert_eq!(options.get_host(), "::1");
            assert_eq!(options.get_port(), 6543);
            let url = DatabaseUrl::parse("postgres://u@[fe80::1%25eth0]/app", "x");
            // A zone id is not valid in a URL host: refused as a bad URL, not sent anywhere.
            assert!(url.is_err());
        });
    }

    /// Serialises the tests that set `PG*` variables, and clears those they do not set.
    static PG_ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());
    const PG_VARS: &[&str] = &["PGHOST", "PGHOSTADDR", "PGPORT"];

    fn with_pg_env<T>(env: &[(&str, &str)], run: impl FnOnce() -> T) -> T {
        let _guard = PG_ENV
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let saved: Vec<_> = PG_VARS.iter().map(|v| (*v, std::env::var_os(v))).collect();
        // SAFETY: only these tests change the environment, one at a time (the lock above);
        // std's own environment accesses are serialised with its lock, and nothing in this
        // test binary reads PG* through C while they run.
        unsafe {
            for var in PG_VARS {
                std::env::remove_var(var);
            }
            for (name, value) in env {
                std::env::set_var(name, value);
            }
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run));
        // SAFETY: as above.
        unsafe {
            for (name, value) in saved {
                match value {
                    Some(value) => std::env::set_var(name, value),
                    None => std::env::remove_var(name),
                }
            }
        }
        result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// A resolver that answers from a table, never from the network.
    fn table_resolver(host: &str, _port: u16) -> std::io::Result<Vec<std::net::IpAddr>> {
        assert!(
            !host.ends_with(".invalid"),
            "`{host}` must not be looked up (RFC 6761)"
        );
        let addresses: &[&str] = match host {
            "db.example.com" => &["10.0.0.7"],
            "loopback-alias" => &["127.0.0.2", "::1"],
            "half-local" => &["127.0.0.1", "192.0.2.1"],
            "mapped-alias" => &["::ffff:127.0.0.1"],
            _ => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "Name or service not known",
                ));
            }
        };
        Ok(addresses.iter().map(|a| a.parse().unwrap()).collect())
    }

    /// Locality from the effective target, over URL forms and `PG*` environments: each row
    /// is (URL, environment, local?).
    #[test]
    fn locality_follows_the_effective_target() {
        const LOCAL: bool = true;
        const REMOTE: bool = false;
        type Env<'a> = &'a [(&'a str, &'a str)];
        let rows: &[(&str, Env, bool)] = &[
            // The URL's host.
            ("postgres://u@localhost/db", &[], LOCAL),
            ("postgres://u@LOCALHOST/db", &[], LOCAL),
            ("postgres://u@localhost./db", &[], LOCAL),
            ("postgresql://u@127.0.0.1:5433/db", &[], LOCAL),
            ("postgres://u@127.255.0.9/db", &[], LOCAL),
            ("postgres://u@127.1/db", &[], LOCAL),
            ("postgres://u@0x7f.1/db", &[], LOCAL),
            ("postgres://u@2130706433/db", &[], LOCAL),
            ("postgres://u@0.0.0.0/db", &[], LOCAL),
            ("postgres://u@[::1]/db", &[], LOCAL),
            ("postgres://u@[::1]:6543/db", &[], LOCAL),
            ("postgres://u@[::ffff:127.0.0.1]/db", &[], LOCAL),
            ("postgres://u@[::]/db", &[], LOCAL),
            ("postgres://u@%2Fvar%2Frun%2Fpostgresql/db", &[], LOCAL),
            ("postgres://u@loopback-alias/db", &[], LOCAL),
            ("postgres://u@mapped-alias/db", &[], LOCAL),
            ("postgres://u@db.example.com/db", &[], REMOTE),
            ("postgres://u@10.0.0.7/db", &[], REMOTE),
            ("postgres://u@128.0.0.1/db", &[], REMOTE),
            ("postgres://u@[2001:db8::1]/db", &[], REMOTE),
            ("postgres://u@[::ffff:10.0.0.7]/db", &[], REMOTE),
            ("postgres://u@db.invalid/db", &[], REMOTE),
            ("postgres://u@localhost.invalid./db", &[], REMOTE),
            ("postgres://u@half-local/db", &[], REMOTE),
            ("postgres://u@no-such-name/db", &[], REMOTE),
            ("postgres://u@1.2.3.4.5/db", &[], REMOTE),
            // Parameters override the URL's host; the last one wins.
            ("postgres://u@localhost/db?host=db.example.com", &[], REMOTE),
            ("postgres://u@localhost/db?hostaddr=10.0.0.7", &[], REMOTE),
            ("postgres://u@localhost/db?host=db.invalid", &[], REMOTE),
            ("postgres://u@db.example.com/db?host=localhost", &[], LOCAL),
            (
                "postgres://u@db.example.com/db?hostaddr=127.0.0.1",
                &[],
                LOCAL,
            ),
            ("postgres://u@db.example.com/db?hostaddr=::1", &[], LOCAL),
            ("postgres://u@db.example.com/db?host=/tmp", &[], LOCAL),
            (
                "postgres://u@localhost/db?host=db.example.com&host=localhost",
                &[],
                LOCAL,
            ),
            (
                "postgres://u@localhost/db?host=localhost&host=db.example.com",
                &[],
                REMOTE,
            ),
            (
                "postgres://u@localhost/db?host=localhost&hostaddr=10.0.0.7",
                &[],
                REMOTE,
            ),
            (
                "postgres://u@localhost/db?hostaddr=10.0.0.7&host=localhost",
                &[],
                LOCAL,
            ),
            // sqlx keeps a socket directory once set: a later TCP host is not used.
            (
                "postgres://u@localhost/db?host=/tmp&host=db.example.com",
                &[],
                LOCAL,
            ),
            // The environment, when the URL names no host.
            ("postgres:///db", &[("PGHOST", "db.example.com")], REMOTE),
            ("postgres:///db", &[("PGHOST", "db.invalid")], REMOTE),
            ("postgres:///db", &[("PGHOSTADDR", "10.0.0.7")], REMOTE),
            (
                "postgres:///db",
                &[("PGHOST", "localhost"), ("PGHOSTADDR", "10.0.0.7")],
                REMOTE,
            ),
            (
                "postgres:///db",
                &[("PGHOST", "db.example.com"), ("PGHOSTADDR", "127.0.0.1")],
                LOCAL,
            ),
            (
                "postgres:///db",
                &[("PGHOST", "/var/run/postgresql")],
                LOCAL,
            ),
            ("postgres:///db", &[("PGHOST", "127.0.0.1")], LOCAL),
            ("postgres:///db", &[("PGPORT", "6000")], LOCAL),
            ("postgres:///db", &[], LOCAL),
            // A host in the URL or its parameters wins over the environment.
            (
                "postgres://u@localhost/db",
                &[("PGHOST", "db.example.com")],
                LOCAL,
            ),
            (
                "postgres://u@localhost/db",
                &[("PGHOSTADDR", "10.0.0.7")],
                LOCAL,
            ),
            (
                "postgres://u@db.example.com/db",
                &[("PGHOST", "localhost")],
                REMOTE,
            ),
            (
                "postgres:///db?host=localhost",
                &[("PGHOST", "db.example.com")],
                LOCAL,
            ),
            (
                "postgres:///db?host=db.example.com",
                &[("PGHOST", "localhost")],
                REMOTE,
            ),
            // SQLite files are on this machine.
            ("sqlite:app.db", &[], LOCAL),
            ("sqlite:///tmp/app.db?mode=rwc", &[], LOCAL),
        ];
        assert!(rows.len() >= 30);
        let mut wrong = Vec::new();
        for (text, env, expected) in rows {
            let url = DatabaseUrl::parse(text, "x").unwrap_or_else(|e| panic!("{text}: {e:?}"));
            let (target, locality) = with_pg_env(env, || {
                let target = url.connect_target();
                let locality = locality_of(&target, &table_resolver);
                (target, locality)
            });
            if locality.is_local() != *expected {
                wrong.push(format!("{text} {env:?}: {target:?} -> {locality:?}"));
            }
        }
        assert!(wrong.is_empty(), "wrong locality:\n{}", wrong.join("\n"));
    }

    #[test]
    fn inet_aton_forms() {
        let v4 = |text: &str| numeric_address(text).map(|ip| ip.to_string());
        assert_eq!(v4("127.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(v4("127.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(v4("0x7f000001").as_deref(), Some("127.0.0.1"));
        assert_eq!(v4("0177.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(v4("2130706433").as_deref(), Some("127.0.0.1"));
        assert_eq!(v4("10.65535").as_deref(), Some("10.0.255.255"));
        assert_eq!(v4("10.16777216"), None);
        assert_eq!(v4("256.1.1.1"), None);
        assert_eq!(v4("1.2.3.4.5"), None);
        assert_eq!(v4("09.1"), None);
        assert_eq!(v4("db"), None);
        assert_eq!(v4("1e3"), None);
        assert_eq!(v4("::1").as_deref(), Some("::1"));
    }

    #[test]
    fn sqlite_databases() {
        let file = |url: &str| match sqlite_database(url) {
            Ok(SqliteDatabase::File(path)) => path.to_string_lossy().into_owned(),
            other => panic!("{url}: {other:?}"),
        };
        assert_eq!(file("sqlite:app.db"), "app.db");
        assert_eq!(file("sqlite://app.db?mode=rwc"), "app.db");
        assert_eq!(file("sqlite:///tmp/app.db"), "/tmp/app.db");
        assert_eq!(file("sqlite:data/a%20b.db"), "data/a b.db");
        assert_eq!(file("sqlite:file:/tmp/x.db?mode=rwc"), "/tmp/x.db");
        assert_eq!(file("sqlite:file:rel.db"), "rel.db");
        assert_eq!(file("sqlite:file:///tmp/x.db"), "/tmp/x.db");
        assert_eq!(file("sqlite:file://localhost/tmp/x.db"), "/tmp/x.db");
        assert_eq!(file("sqlite://file:/tmp/x.db#part"), "/tmp/x.db");
        assert_eq!(file("sqlite:file:/tmp/a%2520b.db"), "/tmp/a b.db");
        for memory in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://?mode=memory",
            "sqlite:app.db?mode=memory",
            "sqlite:file::memory:",
        ] {
            assert_eq!(
                sqlite_database(memory),
                Ok(SqliteDatabase::Memory),
                "{memory}"
            );
        }
        let reason = |url: &str| sqlite_database(url).unwrap_err().0;
        for empty in [
            "sqlite:",
            "sqlite://",
            "sqlite:?mode=rwc",
            "sqlite:file:",
            "sqlite:file://",
        ] {
            assert!(reason(empty).contains("names no database file"), "{empty}");
        }
        assert!(reason("sqlite:/dev/null").contains("`/dev/null` is a character device"));
        assert!(reason("sqlite:/tmp").contains("`/tmp` is a directory"));
        assert!(reason("sqlite:file://db.invalid/x.db").contains("names the host `db.invalid`"));
        // Through `parse`, at the URL's source.
        let err = DatabaseUrl::parse("sqlite:", "environment variable DATABASE_URL").unwrap_err();
        assert_eq!(err.code, ErrorCode::BadDatabaseUrl);
        assert_eq!(
            err.location.as_deref(),
            Some("environment variable DATABASE_URL")
        );
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
