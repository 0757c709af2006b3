//! Documentation that must keep up with the code.

use cargo_migrate::error::ErrorCode;

/// docs/errors.md lists exactly the error codes the tool has.
#[test]
fn error_catalogue_matches_the_codes() {
    let catalogue =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/errors.md")).unwrap();
    let documented: Vec<&str> = catalogue
        .lines()
        .filter_map(|line| line.split('|').nth(2))
        .filter_map(|column| column.trim().strip_prefix('`')?.strip_suffix('`'))
        .collect();
    let mut expected: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    expected.sort_unstable();
    let mut sorted = documented.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, expected, "docs/errors.md and ErrorCode disagree");
    assert_eq!(documented, sorted, "keep docs/errors.md sorted by code");
}
