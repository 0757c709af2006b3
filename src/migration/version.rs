//! Migration versions: parsing the forms found in real histories and ordering them the way
//! the layout's own tool does, so a set applies in the order its authors saw.

use std::cmp::Ordering;

use chrono::{NaiveDateTime, TimeDelta};

/// How versions of a set compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionOrder {
    /// diesel's rule: the version with dashes removed, compared as a string. crates-io mixes
    /// `20260120162913` and `2025-11-19-091444-0000`; only string order keeps them chronological.
    TextWithoutDashes,
    /// sqlx's rule: the version parsed as a signed 64-bit integer.
    Integer,
    /// Flyway's rule: digit groups split at `.` or `_`, compared numerically part by part,
    /// trailing zero parts ignored (`1.0` is `1`; `1_12_2` < `1_12_15`).
    Parts,
    /// A history split into numbered sub-folders (`subfolders`): `<folder>/<version>`, ordered
    /// by the folder's number, then by the version within it (digits, dashes ignored).
    Nested,
}

/// The written form of a version, which `new` imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionStyle {
    /// `YYYYMMDDHHMMSS`.
    Timestamp,
    /// `YYYY-MM-DD-HHMMSS`, with `-0000` when `with_suffix` (diesel 2's form).
    DashedTimestamp { with_suffix: bool },
    /// `1`, `2`, … or zero-padded `0001`, `0002`, … (`width` is the padded width).
    Sequential { width: usize },
}

/// A version as written in a file name, with the key it sorts by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    raw: String,
    key: VersionKey,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum VersionKey {
    Text(String),
    Integer(i64),
    /// Each part as (digit count, digits) without leading zeros: numeric order for any size.
    Parts(Vec<(usize, String)>),
    /// A Flyway repeatable script, by description: after every versioned one (the variant is
    /// last), in description order, as Flyway runs them.
    Repeatable(String),
}

/// Why a version string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionError {
    /// Not digits, and not diesel's dashed timestamp.
    Malformed,
    /// Digits, but more than a signed 64-bit integer holds (sqlx's limit).
    TooLarge,
}

impl Version {
    /// Parses `raw` as a version under `order`.
    ///
    /// Accepted: digits (`20240101120000`, `0001`), and, for directory-style sets, digit groups
    /// joined by single dashes as diesel accepts them: `YYYY-MM-DD-HHMMSS`, `…-NNNN`, and
    /// forms like vaultwarden's `2024-03-13` (its name then starts with `170000_`).
    pub fn parse(raw: &str, order: VersionOrder) -> Result<Version, VersionError> {
        let all_digits = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
        let key = match order {
            VersionOrder::Integer => {
                if !all_digits {
                    return Err(VersionError::Malformed);
                }
                VersionKey::Integer(raw.parse().map_err(|_| VersionError::TooLarge)?)
            }
            VersionOrder::TextWithoutDashes => {
                if !all_digits && !is_dashed_digit_groups(raw) {
                    return Err(VersionError::Malformed);
                }
                VersionKey::Text(raw.replace('-', ""))
            }
            VersionOrder::Parts => {
                VersionKey::Parts(parts_key(raw).ok_or(VersionError::Malformed)?)
            }
            VersionOrder::Nested => {
                VersionKey::Parts(nested_key(raw).ok_or(VersionError::Malformed)?)
            }
        };
        Ok(Version {
            raw: raw.to_string(),
            key,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// A Flyway repeatable script's place in the set (`R__<description>`, as its file is
    /// named): after every versioned migration, ordered by description.
    pub fn repeatable(description: &str) -> Version {
        Version {
            raw: format!("R__{description}"),
            key: VersionKey::Repeatable(description.to_string()),
        }
    }

    /// Whether this is a Flyway repeatable script's (see [`Version::repeatable`]).
    pub fn is_repeatable(&self) -> bool {
        matches!(self.key, VersionKey::Repeatable(_))
    }

    /// The style this version is written in, for `new` to follow.
    pub fn style(&self) -> VersionStyle {
        let raw = self.raw.as_str();
        if is_dashed_timestamp(raw) {
            VersionStyle::DashedTimestamp {
                with_suffix: raw.len() > "YYYY-MM-DD-HHMMSS".len(),
            }
        } else if raw.contains('-') {
            // Other dashed forms (`2024-03-13`): new versions take diesel's full dashed form.
            VersionStyle::DashedTimestamp { with_suffix: false }
        } else if raw.len() == 14 {
            // Includes diesel's `00000000000000_diesel_initial_setup`, which precedes timestamps.
            VersionStyle::Timestamp
        } else {
            VersionStyle::Sequential { width: raw.len() }
        }
    }

    /// The moment a timestamp-style version names, if it is one.
    pub fn timestamp(&self) -> Option<NaiveDateTime> {
        // Only the fixed-width forms name a moment: chrono would read `2024-03-24-03-199` as
        // 03:19:09, a moment that renders as a version sorting before this one.
        let fixed_width = match self.style() {
            VersionStyle::Sequential { .. } => false,
            VersionStyle::Timestamp => true,
            VersionStyle::DashedTimestamp { .. } => is_dashed_timestamp(&self.raw),
        };
        if !fixed_width {
            return None;
        }
        let digits: String = self.raw.chars().filter(|c| *c != '-').take(14).collect();
        parse_timestamp_digits(&digits)
    }

    /// The integer value of an all-digit version.
    pub fn number(&self) -> Option<u128> {
        self.raw.parse().ok()
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Versions of one set share one key kind; the raw text breaks ties only so the order is total.
impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key
            .cmp(&other.key)
            .then_with(|| self.raw.cmp(&other.raw))
    }
}

impl Version {
    /// Whether two versions are the same migration under the set's rule (`0001` and `1` are in
    /// sqlx; `2024-01-01-000000` and `20240101000000` are in diesel).
    pub fn same_key(&self, other: &Version) -> bool {
        self.key == other.key
    }
}

/// Flyway's key: digit groups joined by single `.` or `_`, each read as a number, trailing
/// zero groups dropped (Flyway's `MigrationVersion`); `None` if `raw` is not such a version.
fn parts_key(raw: &str) -> Option<Vec<(usize, String)>> {
    let mut parts = Vec::new();
    for group in raw.split(['.', '_']) {
        if group.is_empty() || !group.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = group.trim_start_matches('0');
        parts.push((digits.len(), digits.to_string()));
    }
    while parts.len() > 1 && parts.last().is_some_and(|(len, _)| *len == 0) {
        parts.pop();
    }
    Some(parts)
}

/// The number a sub-folder of a nested set is ordered by: its one run of digits (`3`, `v3`,
/// `release-03`); `None` for a name with no digits or more than one run of them.
pub fn folder_number(name: &str) -> Option<&str> {
    let start = name.find(|c: char| c.is_ascii_digit())?;
    let rest = &name[start..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let after = &rest[end..];
    (!after.bytes().any(|b| b.is_ascii_digit())).then_some(&rest[..end])
}

/// The key of `<folder>/<version>`: the folder's number, then the version's digits (dashes
/// ignored), each compared as a number.
fn nested_key(raw: &str) -> Option<Vec<(usize, String)>> {
    let (folder, version) = raw.rsplit_once('/')?;
    let all_digits = !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit());
    if !all_digits && !is_dashed_digit_groups(version) {
        return None;
    }
    let part = |digits: &str| {
        let digits = digits.trim_start_matches('0');
        (digits.len(), digits.to_string())
    };
    Some(vec![
        part(folder_number(folder)?),
        part(&version.replace('-', "")),
    ])
}

/// Digit groups joined by single dashes: `2024-03-13`, `2024-03-13-170000-0000`.
fn is_dashed_digit_groups(raw: &str) -> bool {
    raw.split('-')
        .all(|group| !group.is_empty() && group.bytes().all(|b| b.is_ascii_digit()))
}

/// `YYYY-MM-DD-HHMMSS` or `YYYY-MM-DD-HHMMSS-NNNN`, all digits where the letters are.
fn is_dashed_timestamp(raw: &str) -> bool {
    let shape = |pattern: &str| {
        raw.len() == pattern.len()
            && raw.bytes().zip(pattern.bytes()).all(|(c, p)| match p {
                b'-' => c == b'-',
                _ => c.is_ascii_digit(),
            })
    };
    shape("YYYY-MM-DD-HHMMSS") || shape("YYYY-MM-DD-HHMMSS-NNNN")
}

fn parse_timestamp_digits(digits: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M%S").ok()
}

/// Formats `moment` in `style`; `sequence` is the number for the sequential style.
pub fn format_version(style: VersionStyle, moment: NaiveDateTime, sequence: u128) -> String {
    match style {
        VersionStyle::Timestamp => moment.format("%Y%m%d%H%M%S").to_string(),
        VersionStyle::DashedTimestamp { with_suffix } => {
            let base = moment.format("%Y-%m-%d-%H%M%S").to_string();
            if with_suffix { base + "-0000" } else { base }
        }
        VersionStyle::Sequential { width } => format!("{sequence:0width$}"),
    }
}

/// The version for a new migration: `now` in the set's style, bumped so it sorts strictly after
/// `newest` under the set's rule (two `new` within one second, or a clock behind the history).
///
/// [`VersionError::TooLarge`] when no version in the style sorts after `newest`: a sequence that
/// outgrew its width under diesel's text rule (`10` sorts before `9`), or a newest number too
/// large to count on from.
pub fn next_version(
    style: VersionStyle,
    order: VersionOrder,
    newest: Option<&Version>,
    now: NaiveDateTime,
) -> Result<Version, VersionError> {
    let after_newest = |candidate: &Version| newest.is_none_or(|n| candidate.key > n.key);
    if let VersionStyle::Sequential { .. } = style {
        let next = match newest {
            None => 1,
            Some(newest) => newest
                .number()
                .and_then(|n| n.checked_add(1))
                .ok_or(VersionError::TooLarge)?,
        };
        let candidate = Version::parse(&format_version(style, now, next), order)?;
        return if after_newest(&candidate) {
            Ok(candidate)
        } else {
            Err(VersionError::TooLarge)
        };
    }
    let mut moment = now;
    // At most two steps: `now`, then one second after the newest version's moment.
    for _ in 0..2 {
        let candidate = Version::parse(&format_version(style, moment, 0), order)?;
        if after_newest(&candidate) {
            return Ok(candidate);
        }
        moment = newest
            .and_then(Version::timestamp)
            .map_or(moment, |t| t.max(moment))
            + TimeDelta::seconds(1);
    }
    Err(VersionError::TooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(raw: &str, order: VersionOrder) -> Version {
        Version::parse(raw, order).unwrap()
    }

    #[test]
    fn diesel_order_removes_dashes_and_compares_text() {
        let order = VersionOrder::TextWithoutDashes;
        let mut versions = [
            v("20260120162913", order),
            v("2025-11-19-091444-0000", order),
            v("00000000000000", order),
            v("2019-09-12-100000", order),
        ];
        versions.sort();
        let raw: Vec<_> = versions.iter().map(Version::as_str).collect();
        assert_eq!(
            raw,
            [
                "00000000000000",
                "2019-09-12-100000",
                "2025-11-19-091444-0000",
                "20260120162913"
            ]
        );
    }

    #[test]
    fn nested_versions_order_by_folder_then_version() {
        let order = VersionOrder::Nested;
        let mut versions = [
            v("10/01", order),
            v("2/10", order),
            v("2/9", order),
            v("v1/0003", order),
        ];
        versions.sort();
        let raw: Vec<_> = versions.iter().map(Version::as_str).collect();
        assert_eq!(raw, ["v1/0003", "2/9", "2/10", "10/01"]);
        assert!(v("1/01", order).same_key(&v("01/1", order)));
        for bad in ["1", "x/1", "1/x", "1a2/3", "/1"] {
            assert_eq!(
                Version::parse(bad, order),
                Err(VersionError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(folder_number("release-03"), Some("03"));
        assert_eq!(folder_number("v1-2"), None);
    }

    #[test]
    fn sqlx_order_is_numeric() {
        let order = VersionOrder::Integer;
        assert!(v("9", order) < v("10", order));
        assert!(v("0001", order).same_key(&v("1", order)));
        assert_eq!(
            Version::parse("99999999999999999999", order),
            Err(VersionError::TooLarge)
        );
        assert_eq!(
            Version::parse("2024-01-01-000000", order),
            Err(VersionError::Malformed)
        );
    }

    #[test]
    fn dashed_and_plain_forms_of_one_moment_are_the_same_diesel_version() {
        let order = VersionOrder::TextWithoutDashes;
        assert!(v("2024-01-01-000000", order).same_key(&v("20240101000000", order)));
    }

    #[test]
    fn refuses_malformed_versions() {
        for raw in ["", "v1", "-2024", "2024--01", "2024-01-", "12a", "2024_01"] {
            assert_eq!(
                Version::parse(raw, VersionOrder::TextWithoutDashes),
                Err(VersionError::Malformed),
                "{raw}"
            );
        }
    }

    #[test]
    fn accepts_diesel_date_only_versions() {
        // vaultwarden's `2024-03-13_170000_sso_userscascade`: diesel takes `2024-03-13`.
        let order = VersionOrder::TextWithoutDashes;
        assert!(v("2024-03-13", order) < v("2024-03-13-170000", order));
        assert!(v("2024-03-12-999999", order) < v("2024-03-13", order));
    }

    #[test]
    fn styles_are_recognised() {
        let order = VersionOrder::TextWithoutDashes;
        assert_eq!(v("20240101120000", order).style(), VersionStyle::Timestamp);
        assert_eq!(
            v("2024-01-01-120000-0000", order).style(),
            VersionStyle::DashedTimestamp { with_suffix: true }
        );
        assert_eq!(
            v("0003", order).style(),
            VersionStyle::Sequential { width: 4 }
        );
        // diesel's initial setup version sits in a timestamped history.
        assert_eq!(v("00000000000000", order).style(), VersionStyle::Timestamp);
        assert_eq!(v("00000000000000", order).timestamp(), None);
    }

    /// Found by fuzzing: a dashed version of other widths names no moment (chrono read the
    /// last group short, and the moment rendered back sorted before the version).
    #[test]
    fn only_fixed_width_timestamps_name_a_moment() {
        let order = VersionOrder::TextWithoutDashes;
        assert_eq!(v("2024-03-24-03-199", order).timestamp(), None);
        assert_eq!(v("2024-03-13", order).timestamp(), None);
        assert_eq!(v("2024032403199", order).timestamp(), None);
        assert_eq!(
            v("2024-03-24-031909", order).timestamp(),
            Some(at("2024-03-24 03:19:09"))
        );
        assert_eq!(
            v("2024-03-24-031909-0042", order).timestamp(),
            Some(at("2024-03-24 03:19:09"))
        );
        assert_eq!(
            v("20240324031909", order).timestamp(),
            Some(at("2024-03-24 03:19:09"))
        );
    }

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn next_version_is_now_when_history_is_older() {
        let order = VersionOrder::TextWithoutDashes;
        let newest = v("20240101000000", order);
        let next = next_version(
            VersionStyle::Timestamp,
            order,
            Some(&newest),
            at("2026-11-22 10:00:00"),
        )
        .unwrap();
        assert_eq!(next.as_str(), "20261122100000");
    }

    #[test]
    fn next_version_bumps_past_an_equal_or_future_newest() {
        let order = VersionOrder::Integer;
        let newest = v("20261122100000", order);
        let next = next_version(
            VersionStyle::Timestamp,
            order,
            Some(&newest),
            at("2026-11-22 10:00:00"),
        )
        .unwrap();
        assert_eq!(next.as_str(), "20261122100001");

        let order = VersionOrder::TextWithoutDashes;
        let newest = v("2030-01-01-000000-0000", order);
        let next = next_version(
            VersionStyle::DashedTimestamp { with_suffix: true },
            order,
            Some(&newest),
            at("2026-11-22 10:00:00"),
        )
        .unwrap();
        assert_eq!(next.as_str(), "2030-01-01-000001-0000");
    }

    /// Found by fuzzing (`fuzz/fuzz_targets/file_name.rs`): under diesel's text rule `10` sorts
    /// before `9`, and a number past `u128` restarted the sequence at 1.
    #[test]
    fn next_sequential_version_never_sorts_before_the_newest() {
        let at_noon = at("2026-11-22 12:00:00");
        let text = VersionOrder::TextWithoutDashes;
        for newest in ["9", "99", "9999"] {
            let newest = v(newest, text);
            assert_eq!(
                next_version(newest.style(), text, Some(&newest), at_noon),
                Err(VersionError::TooLarge),
                "{}",
                newest.as_str()
            );
        }
        let newest = v("0009", text);
        let next = next_version(newest.style(), text, Some(&newest), at_noon).unwrap();
        assert_eq!(next.as_str(), "0010");
        assert!(next > newest);
        // sqlx compares numbers: widening is fine there.
        let newest = v("9", VersionOrder::Integer);
        let next = next_version(
            newest.style(),
            VersionOrder::Integer,
            Some(&newest),
            at_noon,
        );
        assert_eq!(next.unwrap().as_str(), "10");
        // Past u128 (and at its maximum), there is no next number.
        for newest in [&"3".repeat(127), "340282366920938463463374607431768211455"] {
            let newest = v(newest, text);
            assert_eq!(
                next_version(newest.style(), text, Some(&newest), at_noon),
                Err(VersionError::TooLarge)
            );
        }
    }

    #[test]
    fn next_sequential_version_keeps_the_padding() {
        let order = VersionOrder::Integer;
        let newest = v("0009", order);
        let next = next_version(
            VersionStyle::Sequential { width: 4 },
            order,
            Some(&newest),
            at("2026-11-22 10:00:00"),
        )
        .unwrap();
        assert_eq!(next.as_str(), "0010");
        let first = next_version(
            VersionStyle::Sequential { width: 1 },
            order,
            None,
            at("2026-11-22 10:00:00"),
        )
        .unwrap();
        assert_eq!(first.as_str(), "1");
    }
}
