//! `--version` with `-v` (`cargo migrate -vV`): which build this is, for deploy images.

use std::ffi::OsString;

use serde::Serialize;

use crate::dialect::Dialect;
use crate::report::Output;

/// The dialects this build can run migrations on (`mysql` parses, but `db` refuses it).
const ENGINES: [Dialect; 2] = [Dialect::Postgres, Dialect::Sqlite];

#[derive(Debug, Serialize)]
struct VersionReport {
    name: &'static str,
    version: &'static str,
    commit: &'static str,
    commit_date: &'static str,
    host: &'static str,
    dialects: Vec<&'static str>,
}

fn report() -> VersionReport {
    VersionReport {
        name: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
        // Set by build.rs: git's HEAD, or CARGO_MIGRATE_COMMIT, or "unknown". `option_env!`
        // so that a build that left build.rs out (an old Dockerfile's COPY list) still compiles.
        commit: option_env!("CARGO_MIGRATE_COMMIT").unwrap_or("unknown"),
        commit_date: option_env!("CARGO_MIGRATE_COMMIT_DATE").unwrap_or("unknown"),
        host: option_env!("CARGO_MIGRATE_TARGET").unwrap_or("unknown"),
        dialects: ENGINES.iter().map(|d| d.as_str()).collect(),
    }
}

/// Whether `-v` (alone, or in a cluster such as `-vV`) or `--verbose` comes with `--version`.
pub fn verbose_requested(args: &[OsString]) -> bool {
    args.iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .take_while(|a| *a != "--")
        .any(|a| {
            a == "--verbose"
                || a.strip_prefix('-').is_some_and(|cluster| {
                    !cluster.starts_with('-')
                        && cluster.chars().all(|c| c.is_ascii_alphabetic())
                        && cluster.contains('v')
                })
        })
}

/// Prints the long version, in rustc's `-vV` shape (or one JSON object).
pub fn print(output: &Output) {
    let report = report();
    if output.json() {
        output.print_json(&report);
        return;
    }
    output.line(format!(
        "{} {}\ncommit-hash: {}\ncommit-date: {}\nhost: {}\ndialects: {}",
        report.name,
        report.version,
        report.commit,
        report.commit_date,
        report.host,
        report.dialects.join(", ")
    ));
}

#[cfg(test)]
mod tests {
    use super::verbose_requested;

    #[test]
    fn verbose_is_read_from_flags_and_clusters() {
        let cases: &[(&[&str], bool)] = &[
            (&["-vV"], true),
            (&["-V", "-v"], true),
            (&["--version", "--verbose"], true),
            (&["-qV"], false),
            (&["--version"], false),
            (&["--", "-v", "--version"], false),
            (&["--dir=-v"], false),
        ];
        for (args, expected) in cases {
            let args: Vec<_> = std::iter::once("cargo-migrate")
                .chain(args.iter().copied())
                .map(Into::into)
                .collect();
            assert_eq!(verbose_requested(&args), *expected, "{args:?}");
        }
    }
}
