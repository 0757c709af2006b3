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

/// The catalogue of bad input in docs/errors.md: numbered rows, at least 40 cases, each naming
/// a test (`file::function` under `tests/`) that exists, with the exit code its error code has
/// in the table of codes above it. So the table cannot name a test that is gone or an exit
/// code the tool does not use.
#[test]
fn bad_input_catalogue_names_existing_tests() {
    let root = env!("CARGO_MANIFEST_DIR");
    let doc = std::fs::read_to_string(format!("{root}/docs/errors.md")).unwrap();
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|cell| cell.trim().to_string())
            .collect()
    };
    let (codes, catalogue) = doc
        .split_once("## Catalogue of bad input")
        .expect("docs/errors.md has a `## Catalogue of bad input` section");
    // exit | code | when | example
    let exit_of: std::collections::HashMap<String, String> = codes
        .lines()
        .filter(|line| line.starts_with("| "))
        .map(cells)
        .filter_map(|row| {
            let code = row
                .get(1)?
                .strip_prefix('`')?
                .strip_suffix('`')?
                .to_string();
            Some((code, row.first()?.clone()))
        })
        .collect();
    assert!(exit_of.len() > 40, "the table of codes was not found");

    // # | group | bad input | command | exit | code | test
    let rows: Vec<Vec<String>> = catalogue
        .lines()
        .filter(|line| line.starts_with("| "))
        .map(cells)
        .filter(|row| row[0].parse::<usize>().is_ok())
        .collect();
    let mut sources: std::collections::HashMap<String, String> = Default::default();
    let mut in_errors_rs = 0;
    for (index, row) in rows.iter().enumerate() {
        let context = format!("docs/errors.md catalogue row {row:?}");
        assert_eq!(row.len(), 7, "{context}: expected 7 columns");
        assert_eq!(
            row[0],
            (index + 1).to_string(),
            "{context}: rows are numbered 1, 2, …"
        );
        let test = row[6]
            .strip_prefix('`')
            .and_then(|t| t.strip_suffix('`'))
            .unwrap_or_else(|| panic!("{context}: the test column is `file::function`"));
        let (file, function) = test
            .split_once("::")
            .unwrap_or_else(|| panic!("{context}: the test column is `file::function`"));
        let source = sources.entry(file.to_string()).or_insert_with(|| {
            std::fs::read_to_string(format!("{root}/tests/{file}.rs"))
                .unwrap_or_else(|e| panic!("{context}: tests/{file}.rs: {e}"))
        });
        let declaration = format!("#[test]\nfn {function}()");
        assert!(
            source.contains(&declaration),
            "{context}: tests/{file}.rs has no test `{function}`"
        );
        if file == "errors" {
            in_errors_rs += 1;
        }
        let (exit, code) = (&row[4], &row[5]);
        match code.as_str() {
            "(clap)" => assert_eq!(exit, "2", "{context}: usage errors exit with 2"),
            "—" => assert_eq!(
                exit, "0",
                "{context}: a row without a code is accepted input"
            ),
            code => {
                let documented = exit_of
                    .get(code)
                    .unwrap_or_else(|| panic!("{context}: `{code}` is not in the table of codes"));
                assert!(
                    exit.split(" / ").any(|e| e == documented),
                    "{context}: `{code}` exits with {documented}"
                );
            }
        }
    }
    assert!(rows.len() >= 40, "the catalogue has {} cases", rows.len());
    assert!(
        in_errors_rs >= 40,
        "{in_errors_rs} catalogue cases are in tests/errors.rs"
    );
}
