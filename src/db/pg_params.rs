//! The libpq URL forms managed services and Patroni hand out that sqlx does not read itself:
//! `connect_timeout` (bounds each connection attempt), `target_session_attrs` (a primary is
//! required), and several hosts (`h1:5432,h2:5432`), which are refused with what to use
//! instead: cargo-migrate connects to one server, and never migrates a standby.

use std::time::Duration;

/// The libpq `target_session_attrs` values; `read-write` and `primary` need a primary.
const SESSION_ATTRS: &[&str] = &[
    "any",
    "read-write",
    "read-only",
    "primary",
    "standby",
    "prefer-standby",
];

/// The hosts of a URL that names several (`postgres://u@h1:5432,h2:5432/db`, or
/// `?host=h1,h2`), as written; `None` for one host.
pub(crate) fn several_hosts(text: &str) -> Option<String> {
    let after_scheme = text.split_once("//")?.1;
    let authority = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    // The userinfo ends at the last `@` (a password may hold a `,`).
    let hosts = authority
        .rsplit_once('@')
        .map_or(authority, |(_, hosts)| hosts);
    if hosts.contains(',') {
        return Some(hosts.to_string());
    }
    query_pairs(text)
        .into_iter()
        .rev()
        .find(|(key, _)| key == "host" || key == "hostaddr")
        .filter(|(_, value)| value.contains(','))
        .map(|(_, value)| value)
}

/// Checks the parameters sqlx ignores: `connect_timeout` (whole seconds) and
/// `target_session_attrs` (one of libpq's values). `Err((reason, hint))`.
pub(crate) fn check(text: &str) -> Result<(), (String, &'static str)> {
    for (key, value) in query_pairs(text) {
        match key.as_str() {
            "connect_timeout" if value.trim().parse::<u64>().is_err() => {
                return Err((
                    format!("connect_timeout=`{value}` is not a number of seconds"),
                    "write connect_timeout as whole seconds, e.g. connect_timeout=10 (or use --connect-timeout SECS)",
                ));
            }
            "target_session_attrs" if !SESSION_ATTRS.contains(&value.as_str()) => {
                return Err((
                    format!("target_session_attrs=`{value}` is not one libpq knows"),
                    "use target_session_attrs=read-write (or primary) to require the primary; any, read-only, standby and prefer-standby are read as libpq does",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The URL's `connect_timeout`; `None` when absent or 0 (libpq's "no limit": then
/// `--connect-timeout` bounds the attempt, so nothing waits for ever).
pub(crate) fn connect_timeout(text: &str) -> Option<Duration> {
    let value = query_pairs(text)
        .into_iter()
        .rev()
        .find(|(key, _)| key == "connect_timeout")?
        .1;
    let seconds: u64 = value.trim().parse().ok()?;
    // libpq waits at least 2 s (a shorter limit would fail on a healthy network).
    (seconds > 0).then(|| Duration::from_secs(seconds.max(2)))
}

/// Whether the URL asks for a primary (`target_session_attrs=read-write` or `primary`).
pub(crate) fn requires_primary(text: &str) -> bool {
    query_pairs(text)
        .into_iter()
        .rev()
        .find(|(key, _)| key == "target_session_attrs")
        .is_some_and(|(_, value)| value == "read-write" || value == "primary")
}

/// The query's parameters, decoded; read without parsing the rest, which may be a form the
/// URL parser refuses (several hosts).
fn query_pairs(text: &str) -> Vec<(String, String)> {
    let query = text
        .split_once('?')
        .map_or("", |(_, query)| query.split('#').next().unwrap_or_default());
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_hosts_are_found_in_the_authority_and_the_host_parameter() {
        let table: &[(&str, Option<&str>)] = &[
            (
                "postgres://u@db1:5432,db2:5432/app",
                Some("db1:5432,db2:5432"),
            ),
            ("postgres://u:p,w@db1,db2/app", Some("db1,db2")),
            ("postgres://u@/app?host=db1,db2", Some("db1,db2")),
            ("postgres://u:p,w@db/app", None),
            ("postgres://u@db/app?options=-c%20search_path%3Da,b", None),
            ("postgres://u@db/app", None),
        ];
        for (url, hosts) in table {
            assert_eq!(several_hosts(url).as_deref(), *hosts, "{url}");
        }
    }

    #[test]
    fn connect_timeout_and_session_attrs_are_read_as_libpq_does() {
        let timeout: &[(&str, Option<u64>)] = &[
            ("postgres://u@db/app?connect_timeout=7", Some(7)),
            ("postgres://u@db/app?connect_timeout=1", Some(2)),
            ("postgres://u@db/app?connect_timeout=0", None),
            ("postgres://u@db/app", None),
        ];
        for (url, secs) in timeout {
            assert_eq!(connect_timeout(url), secs.map(Duration::from_secs), "{url}");
            assert!(check(url).is_ok(), "{url}");
        }
        for bad in [
            "postgres://u@db/app?connect_timeout=ten",
            "postgres://u@db/app?connect_timeout=-1",
            "postgres://u@db/app?target_session_attrs=readwrite",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
        assert!(requires_primary(
            "postgres://u@db/app?target_session_attrs=read-write"
        ));
        assert!(requires_primary(
            "postgres://u@db/app?target_session_attrs=primary"
        ));
        assert!(!requires_primary(
            "postgres://u@db/app?target_session_attrs=any"
        ));
        assert!(!requires_primary("postgres://u@db/app"));
    }
}
