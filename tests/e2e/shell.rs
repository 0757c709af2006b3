//! End-to-end tests of what the shell and the system get from cargo-migrate: completion
//! scripts, man pages and the long version (`-vV`).

use crate::support;

use std::process::Command;

use support::Workspace;

/// Every command a script or page must name.
const COMMANDS: [&str; 16] = [
    "list",
    "new",
    "status",
    "up",
    "down",
    "redo",
    "reset",
    "resolve",
    "baseline",
    "check",
    "lint",
    "diff",
    "schema",
    "db",
    "completions",
    "man",
];

#[test]
fn completions_of_every_shell_name_the_commands() {
    let ws = Workspace::empty();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let outcome = ws.run(&["completions", shell]).assert_code(0);
        assert!(outcome.stdout.contains("cargo-migrate"), "{shell}");
        for command in COMMANDS {
            assert!(
                outcome.stdout.contains(command),
                "{shell}: no `{command}` in\n{}",
                outcome.stdout
            );
        }
        // The global and per-command flags are there too.
        assert!(outcome.stdout.contains("manifest-path"), "{shell}");
        assert!(outcome.stdout.contains("database-url"), "{shell}");
    }
    let unknown = ws.run(&["completions", "tcsh"]).assert_code(2);
    assert!(
        unknown.stderr.contains("invalid value 'tcsh'"),
        "{}",
        unknown.stderr
    );
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Sources the bash script in a fresh bash: it registers `cargo-migrate`, completes
/// `cargo-migrate <TAB>` and, through the README's hook, `cargo migrate <TAB>`.
#[test]
fn bash_completion_registers_and_completes() {
    if !have("bash") {
        eprintln!("skipped: no bash");
        return;
    }
    let ws = Workspace::empty();
    let script = ws.run(&["completions", "bash"]).assert_code(0).stdout;
    let path = ws.path().join("cargo-migrate.bash");
    std::fs::write(&path, script).unwrap();
    let readme = std::fs::read_to_string(support::repo().join("README.md")).unwrap();
    let hook = readme
        .split("```bash\n")
        .find(|block| block.contains("_cargo__migrate"))
        .and_then(|block| block.split("```").next())
        .expect("README shows the bash hook for `cargo migrate`");
    let program = format!(
        r#"
        set -e
        source {script}
        complete -p cargo-migrate
        COMP_WORDS=(cargo-migrate ""); COMP_CWORD=1
        _cargo__migrate cargo-migrate "" cargo-migrate
        echo "direct: ${{COMPREPLY[*]}}"
        COMP_WORDS=(cargo-migrate up --dry); COMP_CWORD=2
        _cargo__migrate cargo-migrate --dry up
        echo "up: ${{COMPREPLY[*]}}"
        _cargo() {{ COMPREPLY=(cargo-own); }}
        {hook}
        COMP_WORDS=(cargo migrate ""); COMP_CWORD=2
        _cargo_with_migrate cargo "" migrate
        echo "through cargo: ${{COMPREPLY[*]}}"
        COMP_WORDS=(cargo bu); COMP_CWORD=1
        _cargo_with_migrate cargo bu cargo
        echo "cargo's own: ${{COMPREPLY[*]}}"
        "#,
        script = path.display(),
    );
    let output = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("-F _cargo__migrate cargo-migrate"),
        "{stdout}"
    );
    let line = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_default()
            .split(' ')
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    for command in COMMANDS {
        assert!(line("direct: ").iter().any(|w| w == command), "{stdout}");
        assert!(
            line("through cargo: ").iter().any(|w| w == command),
            "{stdout}"
        );
    }
    assert!(line("up: ").iter().any(|w| w == "--dry-run"), "{stdout}");
    assert_eq!(line("cargo's own: "), ["cargo-own"], "{stdout}");
}

#[test]
fn man_page_of_up_renders_its_options() {
    let ws = Workspace::empty();
    let main = ws.run(&["man"]).assert_code(0).stdout;
    assert!(
        main.starts_with(".ie") || main.contains(".TH cargo-migrate 1"),
        "{main}"
    );
    for command in COMMANDS {
        assert!(main.contains(command), "main page lacks {command}");
    }
    let up = ws.run(&["man", "up"]).assert_code(0).stdout;
    assert!(up.contains(".TH cargo-migrate-up 1"), "{up}");
    for option in ["database\\-url", "dry\\-run", "manifest\\-path"] {
        assert!(up.contains(option), "the page of up lacks {option}:\n{up}");
    }
    let nested = ws.run(&["man", "db", "start"]).assert_code(0).stdout;
    assert!(nested.contains(".TH cargo-migrate-db-start 1"), "{nested}");
    let unknown = ws.run(&["man", "upp"]).assert_code(2);
    assert!(
        unknown.stderr.contains("no command `upp`"),
        "{}",
        unknown.stderr
    );

    // Every page to a directory, one per command.
    let dir = ws.path().join("man1");
    ws.run(&["man", "--out-dir", dir.to_str().unwrap()])
        .assert_code(0);
    for page in [
        "cargo-migrate.1",
        "cargo-migrate-up.1",
        "cargo-migrate-db-start.1",
    ] {
        assert!(dir.join(page).is_file(), "no {page}");
    }
    assert!(!dir.join("cargo-migrate-help.1").exists());

    // man(1) itself accepts the page, when it is installed.
    if have("man") {
        let rendered = Command::new("man")
            .arg("-l")
            .arg(dir.join("cargo-migrate-up.1"))
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&rendered.stdout);
        assert!(
            rendered.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        assert!(text.contains("--dry-run"), "{text}");
    }
}

#[test]
fn verbose_version_names_the_commit_and_dialects() {
    let ws = Workspace::empty();
    let short = ws.run(&["-V"]).assert_code(0).stdout;
    assert_eq!(
        short.trim(),
        format!("cargo-migrate {}", env!("CARGO_PKG_VERSION"))
    );
    let long = ws.run(&["-vV"]).assert_code(0);
    // The same through cargo's spelling and with separate flags.
    assert_eq!(ws.run(&["migrate", "--version", "-v"]).stdout, long.stdout);
    let commit = long
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("commit-hash: "))
        .expect("a commit-hash line");
    // Built from this checkout, the commit is git's.
    if support::repo().join(".git").exists() && std::env::var_os("CARGO_MIGRATE_COMMIT").is_none() {
        assert!(
            commit.len() == 40 && commit.chars().all(|c| c.is_ascii_hexdigit()),
            "{commit}"
        );
    }
    let masked = long
        .snapshot()
        .lines()
        .map(|line| match line.split_once(": ") {
            Some((key @ ("commit-hash" | "commit-date" | "host"), _)) => format!("{key}: [{key}]"),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replace(env!("CARGO_PKG_VERSION"), "[VERSION]");
    insta::assert_snapshot!("version_verbose", masked);
    let json = ws.run(&["-vV", "--format", "json"]).assert_code(0).json();
    assert_eq!(json["commit"], commit);
    assert_eq!(json["dialects"], serde_json::json!(["postgres", "sqlite"]));
}
