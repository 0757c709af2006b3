//! Migration file and directory names: layout classification, version parsing, ordering and
//! the next version `new` picks.
//!
//! Input: lines (`\n`-separated bytes, at most 64). A line is a directory entry's name, as the
//! file system gives it (any bytes: converted the way `layout::scan` converts `OsStr` names); a
//! trailing `/` makes it a directory. A line containing `*` is an `ignore` pattern instead.
//!
//! Invariants:
//! - nothing panics (classification for every default layout, version parsing for both orders,
//!   styles, timestamps, `next_version`, `wildcard_match`);
//! - a parsed version re-renders (`as_str`, and `format_version` in its own style) to a string
//!   that parses back to an equal version / the same style and moment;
//! - `Ord` on versions is a total order consistent with `==` (antisymmetric, transitive), and
//!   `same_key` agrees with it;
//! - `next_version` sorts strictly after the newest version, under the set's rule;
//! - a successful classification is sorted, has distinct keys, accounts for every entry, and
//!   does not depend on the order the entries are listed in;
//! - `wildcard_match` agrees with a reference matcher.

#![no_main]

use std::cmp::Ordering;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use cargo_migrate::migration::layout::{
    Classified, Entry, Layout, ScanOptions, classify, wildcard_match,
};
use cargo_migrate::migration::version::{
    Version, VersionOrder, VersionStyle, format_version, next_version,
};
use chrono::{NaiveDate, NaiveDateTime};
use libfuzzer_sys::fuzz_target;

const ORDERS: [VersionOrder; 2] = [VersionOrder::TextWithoutDashes, VersionOrder::Integer];
const MAX_LINES: usize = 64;
/// Versions compared pairwise and in triples, per order.
const MAX_COMPARED: usize = 16;
/// Patterns × names checked against the reference matcher.
const MAX_WILDCARD_CHECKS: usize = 256;

fuzz_target!(|data: &[u8]| {
    let lines: Vec<&[u8]> = data.split(|&byte| byte == b'\n').take(MAX_LINES).collect();
    let mut entries = Vec::new();
    let mut ignore = Vec::new();
    for line in &lines {
        // As `layout::scan` reads a directory: `to_string_lossy` of the `OsStr` name.
        let name = OsStr::from_bytes(line).to_string_lossy().into_owned();
        if name.contains('*') {
            ignore.push(name);
            continue;
        }
        let entry = match name.strip_suffix('/') {
            Some(stem) => Entry {
                name: stem.to_owned(),
                is_dir: true,
            },
            None => Entry {
                name,
                is_dir: false,
            },
        };
        entries.push(entry);
    }

    check_versions(data, &entries);
    check_classification(
        &entries,
        &ignore,
        lines.first().copied().unwrap_or_default(),
    );
    check_wildcards(&ignore, &entries);
});

// ------------------------------------------------------------------------------ versions

fn check_versions(data: &[u8], entries: &[Entry]) {
    // Candidates: each name, the part before its first `_`, and the input split in two.
    let mut candidates: Vec<String> = Vec::new();
    for entry in entries {
        candidates.push(entry.name.clone());
        if let Some((version, _)) = entry.name.split_once('_') {
            candidates.push(version.to_owned());
        }
    }
    let (first, second) = data.split_at(data.len() / 2);
    candidates.push(String::from_utf8_lossy(first).into_owned());
    candidates.push(String::from_utf8_lossy(second).into_owned());

    for order in ORDERS {
        let mut parsed = Vec::new();
        for raw in &candidates {
            if let Ok(version) = Version::parse(raw, order) {
                check_version(raw, &version, order);
                parsed.push(version);
            }
        }
        check_total_order(&parsed[..parsed.len().min(MAX_COMPARED)]);
        let mut sorted = parsed.clone();
        sorted.sort();
        assert!(sorted.windows(2).all(|pair| pair[0] <= pair[1]));
    }
}

fn check_version(raw: &str, version: &Version, order: VersionOrder) {
    assert_eq!(version.as_str(), raw);
    // Re-rendered as written: parses to an equal version.
    assert_eq!(
        Version::parse(version.as_str(), order).as_ref(),
        Ok(version)
    );
    assert!(version.same_key(version));

    let style = version.style();
    let moment = version.timestamp();
    match style {
        VersionStyle::Sequential { width } => {
            assert_eq!(width, raw.len());
            assert_eq!(moment, None, "{raw:?}");
            if let Some(number) = version.number() {
                // Rendered in its own style from its own number: the same text.
                assert_eq!(format_version(style, reference_now(), number), raw);
            }
        }
        VersionStyle::Timestamp | VersionStyle::DashedTimestamp { .. } => {
            if let Some(moment) = moment {
                let rendered = format_version(style, moment, 0);
                let again = Version::parse(&rendered, order).unwrap_or_else(|error| {
                    panic!("{raw:?} re-rendered as {rendered:?}: {error:?}")
                });
                assert_eq!(again.style(), style, "{raw:?} re-rendered as {rendered:?}");
                assert_eq!(
                    again.timestamp(),
                    Some(moment),
                    "{raw:?} re-rendered as {rendered:?}"
                );
                if let Some(exact) = canonical_form(raw, style) {
                    assert_eq!(rendered, exact, "{raw:?}");
                }
            }
        }
    }

    // `new` picks a version strictly after the newest one, under the set's rule.
    let mut nows = vec![reference_now()];
    nows.extend(moment);
    for now in nows {
        if let Ok(next) = next_version(style, order, Some(version), now) {
            assert!(
                next > *version && !next.same_key(version),
                "next_version after {raw:?} ({order:?}, {style:?}, now {now}) is {:?}",
                next.as_str()
            );
            assert_eq!(Version::parse(next.as_str(), order).as_ref(), Ok(&next));
        }
    }
}

/// What `format_version` must give back exactly for a version whose moment parsed: the
/// timestamp forms are fixed-width, so only diesel 2's `-NNNN` suffix is normalised (to `0000`).
fn canonical_form(raw: &str, style: VersionStyle) -> Option<String> {
    let dashed_shape = |raw: &str| {
        raw.len() >= 17
            && [4, 7, 10]
                .iter()
                .all(|&index| raw.as_bytes()[index] == b'-')
    };
    match style {
        VersionStyle::Timestamp => Some(raw.to_owned()),
        VersionStyle::DashedTimestamp { with_suffix: false }
            if raw.len() == 17 && dashed_shape(raw) =>
        {
            Some(raw.to_owned())
        }
        VersionStyle::DashedTimestamp { with_suffix: true } => Some(format!("{}-0000", &raw[..17])),
        _ => None,
    }
}

fn reference_now() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 6, 15)
        .and_then(|date| date.and_hms_opt(12, 0, 0))
        .expect("a valid moment")
}

/// `cmp` is antisymmetric, transitive and consistent with `==`; `same_key` is an equivalence
/// that `cmp` refines.
fn check_total_order(versions: &[Version]) {
    for a in versions {
        for b in versions {
            let ab = a.cmp(b);
            assert_eq!(ab, b.cmp(a).reverse(), "{a:?} vs {b:?}");
            assert_eq!(ab == Ordering::Equal, a == b, "{a:?} vs {b:?}");
            assert_eq!(a.partial_cmp(b), Some(ab));
            assert_eq!(a.same_key(b), b.same_key(a));
            if a == b {
                assert!(a.same_key(b));
            }
            for c in versions {
                if a <= b && b <= c {
                    assert!(a <= c, "{a:?} <= {b:?} <= {c:?}");
                }
                if a.same_key(b) && b.same_key(c) {
                    assert!(a.same_key(c));
                }
                // Same-key versions are adjacent in the order (ties broken by text only).
                if a.same_key(c) && a <= b && b <= c {
                    assert!(a.same_key(b), "{a:?} <= {b:?} <= {c:?}");
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------ layouts

fn check_classification(entries: &[Entry], ignore: &[String], first_line: &[u8]) {
    let dir = Path::new("migrations");
    // `dir` names files in errors only, whatever bytes it is made of.
    let odd_dir = Path::new(OsStr::from_bytes(first_line));
    let mut reversed = entries.to_vec();
    reversed.reverse();
    for default_layout in [None, Some(Layout::Directory), Some(Layout::Sqlx)] {
        let options = ScanOptions {
            ignore: ignore.to_vec(),
            default_layout,
        };
        let result = classify(dir, entries, &options);
        let reversed_result = classify(dir, &reversed, &options);
        let odd_dir_result = classify(odd_dir, entries, &options);
        assert_eq!(result.is_ok(), reversed_result.is_ok());
        assert_eq!(result.is_ok(), odd_dir_result.is_ok());
        match (result, reversed_result) {
            (Ok(classified), Ok(reversed_classified)) => {
                check_classified(&classified, entries, &options);
                assert_eq!(classified, reversed_classified, "depends on entry order");
            }
            (Err(error), Err(_)) => {
                assert!(!error.message.is_empty());
            }
            _ => unreachable!(),
        }
    }
}

fn check_classified(classified: &Classified, entries: &[Entry], options: &ScanOptions) {
    let order = classified.layout.version_order();
    for pair in classified.found.windows(2) {
        assert!(pair[0].version < pair[1].version);
        assert!(!pair[0].version.same_key(&pair[1].version));
    }
    let mut used = 0;
    for found in &classified.found {
        assert!(!found.name.is_empty());
        assert_eq!(
            Version::parse(found.version.as_str(), order).as_ref(),
            Ok(&found.version)
        );
        let stem = format!("{}_{}", found.version.as_str(), found.name);
        match classified.layout {
            Layout::Directory => {
                assert_eq!(found.up, stem);
                assert!(found.down.is_none());
                assert!(entries.iter().any(|e| e.is_dir && e.name == found.up));
            }
            Layout::Sqlx => {
                assert!(
                    found.up == format!("{stem}.sql") || found.up == format!("{stem}.up.sql"),
                    "{found:?}"
                );
                assert!(entries.iter().any(|e| !e.is_dir && e.name == found.up));
                if let Some(down) = &found.down {
                    assert!(found.up.ends_with(".up.sql"));
                    let down_version = down
                        .strip_suffix(".down.sql")
                        .and_then(|stem| stem.split_once('_'))
                        .map(|(version, _)| version)
                        .expect("a down script named <version>_<name>.down.sql");
                    let down_version = Version::parse(down_version, order).expect("parses");
                    assert!(down_version.same_key(&found.version));
                    assert!(entries.iter().any(|e| !e.is_dir && &e.name == down));
                    used += 1;
                }
            }
        }
        used += 1;
    }
    assert_eq!(
        classified.sqlx_reversible,
        classified.layout == Layout::Sqlx
            && classified.found.iter().any(|f| f.up.ends_with(".up.sql"))
    );
    // Every entry not skipped became part of a migration.
    let kept = entries
        .iter()
        .filter(|entry| {
            !ignored_by_default(&entry.name)
                && !options
                    .ignore
                    .iter()
                    .any(|pattern| wildcard_match(pattern, &entry.name))
        })
        .count();
    assert_eq!(used, kept, "entries unaccounted for in {classified:?}");
}

/// The built-in skips of `layout::classify` (dotfiles, READMEs, licences, Markdown).
fn ignored_by_default(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    name.starts_with('.')
        || upper.starts_with("README")
        || upper.starts_with("LICENSE")
        || upper.ends_with(".MD")
}

// ------------------------------------------------------------------------------ wildcards

fn check_wildcards(patterns: &[String], entries: &[Entry]) {
    let names = entries.iter().map(|entry| entry.name.as_str());
    let mut checks = 0;
    for pattern in patterns {
        for name in names.clone().chain([pattern.as_str(), ""]) {
            assert_eq!(
                wildcard_match(pattern, name),
                reference_wildcard_match(pattern, name),
                "{pattern:?} against {name:?}"
            );
            checks += 1;
            if checks >= MAX_WILDCARD_CHECKS {
                return;
            }
        }
    }
}

/// `*` matches any run of characters, anything else itself: a dynamic programme over
/// characters (`matches[j]`: the pattern read so far matches the first `j` characters).
fn reference_wildcard_match(pattern: &str, name: &str) -> bool {
    let name: Vec<char> = name.chars().collect();
    let mut matches = vec![false; name.len() + 1];
    matches[0] = true;
    for p in pattern.chars() {
        let mut next = vec![false; name.len() + 1];
        if p == '*' {
            let mut any = false;
            for j in 0..=name.len() {
                any |= matches[j];
                next[j] = any;
            }
        } else {
            for j in 1..=name.len() {
                next[j] = matches[j - 1] && name[j - 1] == p;
            }
        }
        matches = next;
    }
    matches[name.len()]
}
