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

/// The exit column of docs/errors.md is the class each code has in src/error.rs: one table,
/// so a code never exits differently in two places.
#[test]
fn error_catalogue_exit_codes_are_the_codes_classes() {
    let catalogue =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/errors.md")).unwrap();
    let documented: std::collections::HashMap<String, String> = catalogue
        .lines()
        .filter_map(|line| {
            let mut columns = line.split('|').skip(1).map(str::trim);
            let exit = columns.next()?;
            let code = columns.next()?.strip_prefix('`')?.strip_suffix('`')?;
            Some((code.to_string(), exit.to_string()))
        })
        .collect();
    for code in ErrorCode::ALL {
        assert_eq!(
            documented.get(code.as_str()).map(String::as_str),
            Some(code.class().exit_code().to_string().as_str()),
            "`{code}`: docs/errors.md and ErrorCode::class disagree"
        );
    }
}

// ------------------------------------------------------------------- templates/deploy

use std::path::{Path, PathBuf};

use clap::Parser;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo().join(relative))
        .unwrap_or_else(|e| panic!("read {relative}: {e}"))
}

/// Parses a command line as the binary does (`cargo-migrate migrate up …`: the `migrate`
/// Cargo passes is dropped) and checks it is the deploy command: `up --dir /migrations
/// --dialect postgres --yes`.
#[track_caller]
fn assert_deploy_command(args: &[String], what: &str) {
    let mut line: Vec<&str> = vec!["cargo-migrate"];
    line.extend(
        args.iter()
            .map(String::as_str)
            .skip_while(|a| *a == "migrate"),
    );
    let cli = cargo_migrate::cli::Cli::try_parse_from(&line)
        .unwrap_or_else(|e| panic!("{what}: {line:?} is not a valid command line:\n{e}"));
    assert_eq!(
        cli.global.dir.as_deref(),
        Some(Path::new("/migrations")),
        "{what}"
    );
    assert_eq!(
        cli.global.dialect,
        Some(cargo_migrate::dialect::Dialect::Postgres),
        "{what}"
    );
    match cli.command {
        cargo_migrate::cli::Command::Up(up) => {
            assert!(up.yes, "{what}: --yes");
            assert!(!up.dry_run, "{what}");
        }
        other => panic!("{what}: not `up`: {other:?}"),
    }
}

/// The migration container of a manifest, checked for what docs/deploy.md promises: the
/// deploy command line, and the URL from the migration's own Secret.
#[track_caller]
fn check_migrate_container(container: &Value, what: &str) {
    assert_eq!(container["name"], "migrate", "{what}");
    let args: Vec<String> = container["args"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no args"))
        .iter()
        // A number left unquoted in YAML would not be a string: Kubernetes rejects it.
        .map(|a| {
            a.as_str()
                .unwrap_or_else(|| panic!("{what}: arg {a} is not a string"))
                .to_string()
        })
        .collect();
    assert_deploy_command(&args, what);
    for flag in ["--wait", "--lock-timeout", "--format"] {
        assert!(args.iter().any(|a| a == flag), "{what}: {flag}");
    }
    let env = container["env"].as_array().expect("env");
    let url = env
        .iter()
        .find(|e| e["name"] == "DATABASE_URL")
        .unwrap_or_else(|| panic!("{what}: no DATABASE_URL"));
    assert_eq!(
        url["valueFrom"]["secretKeyRef"],
        serde_json::json!({"name": "app-migrate-database", "key": "url"}),
        "{what}"
    );
    assert!(url.get("value").is_none(), "{what}: a literal URL");
    assert_eq!(container["securityContext"]["runAsNonRoot"], true, "{what}");
}

fn yaml(relative: &str) -> Value {
    serde_norway::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

#[test]
fn deploy_init_container_manifest_runs_the_deploy_command() {
    let deployment = yaml("templates/deploy/init-container.yaml");
    assert_eq!(deployment["apiVersion"], "apps/v1");
    assert_eq!(deployment["kind"], "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"],
        deployment["spec"]["template"]["metadata"]["labels"]
    );
    check_migrate_container(&pod["initContainers"][0], "init-container.yaml");
    // The application keeps its own credentials.
    let app_url = &pod["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["name"];
    assert_ne!(app_url, "app-migrate-database");
}

#[test]
fn deploy_job_manifest_runs_the_deploy_command_and_retries_only_exit_3() {
    use cargo_migrate::error::ErrorClass;
    let job = yaml("templates/deploy/job.yaml");
    assert_eq!(job["apiVersion"], "batch/v1");
    assert_eq!(job["kind"], "Job");
    let pod = &job["spec"]["template"]["spec"];
    // podFailurePolicy requires it.
    assert_eq!(pod["restartPolicy"], "Never");
    check_migrate_container(&pod["containers"][0], "job.yaml");
    let rule = &job["spec"]["podFailurePolicy"]["rules"][0];
    assert_eq!(rule["action"], "FailJob");
    assert_eq!(rule["onExitCodes"]["containerName"], "migrate");
    assert_eq!(
        rule["onExitCodes"]["values"],
        serde_json::json!([
            ErrorClass::CheckFailed.exit_code(),
            ErrorClass::Input.exit_code()
        ])
    );
}

/// The Dockerfile's paths exist in this repository (and get through its
/// `Dockerfile.dockerignore`), the default `MIGRATIONS` is a migration set, the entry point
/// is where the binary is copied, and the default command is the deploy command line.
#[test]
fn deploy_dockerfile_paths_match_the_repository() {
    let dockerfile = read("templates/deploy/Dockerfile");
    let ignore = read("templates/deploy/Dockerfile.dockerignore");
    let allowed: Vec<&str> = ignore
        .lines()
        .filter_map(|l| l.trim().strip_prefix('!'))
        .collect();
    let lines: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    let mut sources = Vec::new();
    let mut binary_destination = None;
    for line in &lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words[0] != "COPY" {
            continue;
        }
        if words[1].starts_with("--from=") {
            binary_destination = Some(words[3].to_string());
            continue;
        }
        let (from, _to) = words[1..].split_at(words.len() - 2);
        sources.extend(from.iter().map(|s| s.to_string()));
    }
    let migrations = lines
        .iter()
        .find_map(|l| l.strip_prefix("ARG MIGRATIONS="))
        .expect("ARG MIGRATIONS=<default>");
    assert!(
        sources.contains(&"${MIGRATIONS}".to_string()),
        "{sources:?}"
    );
    for source in &sources {
        let source = source.replace("${MIGRATIONS}", migrations);
        assert!(
            repo().join(&source).exists(),
            "COPY {source}: not in the repository"
        );
        let top = source.split('/').next().unwrap();
        assert!(
            allowed.contains(&top),
            "COPY {source}: excluded by Dockerfile.dockerignore"
        );
    }
    for needed in ["Cargo.toml", "Cargo.lock", "src", "templates"] {
        assert!(sources.iter().any(|s| s == needed), "COPY {needed}");
    }
    let migration_dirs = std::fs::read_dir(repo().join(migrations))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("up.sql").is_file())
        .count();
    assert!(migration_dirs > 0, "{migrations} holds no migration");
    let entrypoint: Vec<String> = serde_json::from_str(
        lines
            .iter()
            .find_map(|l| l.strip_prefix("ENTRYPOINT "))
            .expect("ENTRYPOINT"),
    )
    .expect("ENTRYPOINT in exec form");
    assert_eq!(Some(entrypoint[0].clone()), binary_destination);
    let command: Vec<String> = serde_json::from_str(
        lines
            .iter()
            .find_map(|l| l.strip_prefix("CMD "))
            .expect("CMD"),
    )
    .expect("CMD in exec form");
    assert_deploy_command(&command, "Dockerfile CMD");
}

/// docs/deploy.md documents every event `--format json` runs print.
#[test]
fn deploy_doc_lists_every_event() {
    let doc = read("docs/deploy.md");
    for event in [
        "started", "applied", "reverted", "skipped", "finished", "error",
    ] {
        assert!(
            doc.contains(&format!("| `{event}` |")),
            "docs/deploy.md: no row for `{event}`"
        );
    }
}

/// The catalogue of bad input in docs/errors.md: numbered rows, at least 40 cases, each naming
/// a test (`module::function` in tests/e2e/) that exists, with the exit code its error code has
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
            std::fs::read_to_string(format!("{root}/tests/e2e/{file}.rs"))
                .unwrap_or_else(|e| panic!("{context}: tests/e2e/{file}.rs: {e}"))
        });
        let declaration = format!("#[test]\nfn {function}()");
        assert!(
            source.contains(&declaration),
            "{context}: tests/e2e/{file}.rs has no test `{function}`"
        );
        if file == "errors" {
            in_errors_rs += 1;
        }
        let (exit, code) = (&row[4], &row[5]);
        match code.as_str() {
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
        "{in_errors_rs} catalogue cases are in tests/e2e/errors.rs"
    );
}
