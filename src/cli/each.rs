//! Running one command for the sets a command line selects: each set in turn, its output
//! under a header of its own (human) or as one entry of `{"sets": […]}` (JSON), and the exit
//! code of the worst set. With one set selected nothing changes: no header, the command's own
//! JSON shape.

use std::cell::RefCell;
use std::rc::Rc;

use super::Context;
use crate::dialect::Dialect;
use crate::error::{Error, ErrorClass, ErrorCode, Result, display_path};
use crate::report::events::{self, Event};
use crate::report::{ErrorReport, style};
use crate::sandbox::SandboxKind;
use crate::workspace::{Scope, SetSpec, Workspace};

/// Whether a command changes a database or the files: changing commands run for several sets
/// only when the user named them (`-p A -p B`, `--workspace`), never by default at a root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ReadOnly,
    Changing,
}

/// How a command writes `--format json`: one object, or an event stream (`up`, `down`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Json {
    Object,
    Events,
}

/// The workspace and the sets the command line selects for a command of `kind`.
pub fn sets(context: &Context, kind: Kind) -> Result<(Workspace, Vec<SetSpec>)> {
    let workspace = context.workspace()?;
    let selection = workspace.choose(&context.selector()?)?;
    let scope = selection.scope;
    let sets = selection.require_sets(&workspace)?;
    if kind == Kind::Changing && sets.len() > 1 && scope != Scope::Explicit {
        return Err(workspace.ambiguous(
            &sets,
            "pick one with -p/--package NAME (or run inside its package's directory); to change several, name them with -p A -p B or --workspace",
        ));
    }
    let sets = sets.into_iter().cloned().collect();
    Ok((workspace, sets))
}

/// Runs a read-only command that needs no database of its own (`check`, `diff`, `schema`)
/// for every selected set, with one JSON object per set.
pub fn read_only(
    context: &Context,
    run_set: impl FnMut(&Context, &Workspace, &SetSpec) -> Result<()>,
) -> Result<()> {
    let selected = sets(context, Kind::ReadOnly)?;
    run(context, Kind::ReadOnly, Json::Object, selected, run_set)
}

/// Runs `run` for every set. One set: `run` as is. Several: each under its header; a changing
/// command stops at the first set that fails (the rest are named as not run), a read-only one
/// goes through them all.
pub fn run(
    context: &Context,
    kind: Kind,
    json: Json,
    (workspace, sets): (Workspace, Vec<SetSpec>),
    mut run: impl FnMut(&Context, &Workspace, &SetSpec) -> Result<()>,
) -> Result<()> {
    if let [one] = sets.as_slice() {
        return run(context, &workspace, one);
    }
    let output = &context.output;
    let captured = Rc::new(RefCell::new(Vec::new()));
    let mut reports = Vec::new();
    let mut failed: Vec<(String, Error)> = Vec::new();
    let mut not_run = Vec::new();
    for (index, spec) in sets.iter().enumerate() {
        let label = spec.label(&workspace.root);
        if kind == Kind::Changing && !failed.is_empty() {
            not_run.push(label);
            continue;
        }
        if output.json() && json == Json::Events {
            events::emit(&Event::Set { set: &label });
        } else if !output.json() {
            // The header goes with the set's output: a changing command's is status lines
            // on stderr, a read-only command's is results on stdout.
            let status = kind == Kind::Changing;
            let paint = |text: String, style| {
                if status {
                    output.paint_err(text, style)
                } else {
                    output.paint(text, style)
                }
            };
            let write = |text: String| {
                if status {
                    output.status(text)
                } else {
                    output.line(text)
                }
            };
            if index > 0 {
                write(String::new());
            }
            let header = format!(
                "{} {}",
                paint(
                    format!("Set {}", crate::report::printable(&label)),
                    style::header()
                ),
                paint(
                    format!(
                        "({})",
                        crate::report::printable(&workspace.relative(&spec.dir))
                    ),
                    style::dim()
                )
            );
            write(header);
        }
        let mut global = context.global.clone();
        // `--sandbox docker|local` says how to get a disposable PostgreSQL; in a run over
        // sets of both dialects it is for the PostgreSQL ones, and a SQLite set uses a file.
        if spec.dialect() == Some(Dialect::Sqlite)
            && matches!(
                global.sandbox,
                Some(SandboxKind::Docker | SandboxKind::Local)
            )
        {
            global.sandbox = None;
        }
        let set_context = Context {
            global,
            output: output.capturing(captured.clone()),
        };
        let result = run(&set_context, &workspace, spec);
        let mut objects: Vec<serde_json::Value> = captured.borrow_mut().drain(..).collect();
        if let Err(error) = &result {
            if output.json() && json == Json::Object && !error.reported_in_json {
                objects.push(
                    serde_json::to_value(ErrorReport::from(&crate::report::shown(error)))
                        .unwrap_or_default(),
                );
            } else if !output.json() {
                output.print_error(error);
            }
        }
        for object in objects {
            reports.push(with_set(object, &label));
        }
        if let Err(error) = result {
            failed.push((label, error));
        }
    }
    if output.json() && json == Json::Object {
        output.print_json(&serde_json::json!({ "sets": reports }));
    }
    summary(context, &workspace, sets.len(), failed, &not_run)
}

/// `object` with the set's name added: `{"set": "billing", …}`.
fn with_set(object: serde_json::Value, label: &str) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    map.insert("set".to_string(), label.into());
    match object {
        serde_json::Value::Object(fields) => {
            for (key, value) in fields {
                map.entry(key).or_insert(value);
            }
        }
        other => {
            map.insert("report".to_string(), other);
        }
    }
    serde_json::Value::Object(map)
}

/// The run's outcome: Ok when every set passed, else one error naming the failed sets, of the
/// worst class among them (see [`worst`]). Each set's own error was shown already.
fn summary(
    context: &Context,
    workspace: &Workspace,
    total: usize,
    failed: Vec<(String, Error)>,
    not_run: &[String],
) -> Result<()> {
    let Some(worst) = worst(failed.iter().map(|(_, e)| e)) else {
        return Ok(());
    };
    let names: Vec<&str> = failed.iter().map(|(label, _)| label.as_str()).collect();
    let mut message = format!(
        "{} of {total} sets failed: {}",
        failed.len(),
        names.join(", ")
    );
    if !not_run.is_empty() {
        message.push_str(&format!("; not run after that: {}", not_run.join(", ")));
    }
    let error = Error::new(worst.class, worst.code, message)
        .at(display_path(&workspace.root.join("Cargo.toml")))
        .hint(if not_run.is_empty() {
            "each set's error is shown above; run one set with -p NAME"
        } else {
            "each set's error is shown above; fix it and run again (sets already done have nothing left to do)"
        });
    // In JSON every set's error is already in its report or its event stream.
    Err(if context.output.json() {
        error.reported_in_json()
    } else {
        error
    })
}

/// The error that decides the exit code of a run over several sets: a problem that needs a
/// person (2: input, 1: a check failed) before one that a retry may fix (3: unreachable), since
/// retrying cannot fix the other sets' problems.
pub fn worst<'e>(errors: impl Iterator<Item = &'e Error>) -> Option<&'e Error> {
    let rank = |class: ErrorClass| match class {
        ErrorClass::Input => 3,
        ErrorClass::CheckFailed => 2,
        ErrorClass::Unreachable => 1,
    };
    errors.max_by_key(|e| rank(e.class))
}

/// Refuses to run several sets against one database with one history table: each set's
/// history would list the other's migrations as missing, and `up` would apply into the
/// other's table. Sets with history tables of their own may share a database.
pub fn refuse_shared_history(
    workspace: &Workspace,
    targets: &[(&SetSpec, Option<crate::db::DatabaseUrl>)],
) -> Result<()> {
    for (i, (a, url_a)) in targets.iter().enumerate() {
        for (b, url_b) in &targets[i + 1..] {
            let (Some(url_a), Some(url_b)) = (url_a, url_b) else {
                continue;
            };
            let table = crate::engine::own_table(a);
            if url_a.expose() == url_b.expose() && table == crate::engine::own_table(b) {
                return Err(Error::input(
                    ErrorCode::SharedHistoryTable,
                    format!(
                        "sets `{}` and `{}` would share one history table ({table}) on {url_a}",
                        a.label(&workspace.root),
                        b.label(&workspace.root),
                    ),
                )
                .at(format!(
                    "--database-url, or {} and {}",
                    crate::engine::url_variable(a),
                    crate::engine::url_variable(b)
                ))
                .hint("one history table holds one set: each would see the other's migrations as missing; give each set its own URL (`database-url-env` in its [package.metadata.migrate]) or history table (`history-table`), or run one set with -p NAME"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_set_decides_the_exit_code() {
        // The class follows from the code (ErrorCode::class): one code of each class.
        let err = |class| {
            let code = match class {
                ErrorClass::Unreachable => ErrorCode::DatabaseUnreachable,
                ErrorClass::CheckFailed => ErrorCode::CheckFailed,
                _ => ErrorCode::BadArgument,
            };
            Error::coded(code, "x")
        };
        for (classes, expected) in [
            (vec![], None),
            (vec![ErrorClass::Unreachable], Some(3)),
            (
                vec![ErrorClass::Unreachable, ErrorClass::CheckFailed],
                Some(1),
            ),
            (vec![ErrorClass::CheckFailed, ErrorClass::Input], Some(2)),
            (
                vec![
                    ErrorClass::Unreachable,
                    ErrorClass::Input,
                    ErrorClass::CheckFailed,
                ],
                Some(2),
            ),
        ] {
            let errors: Vec<Error> = classes.into_iter().map(err).collect();
            assert_eq!(worst(errors.iter()).map(Error::exit_code), expected);
        }
    }

    #[test]
    fn a_sets_report_gets_its_name() {
        let object = with_set(serde_json::json!({"database": "d", "set": "x"}), "billing");
        assert_eq!(object["set"], "billing");
        assert_eq!(object["database"], "d");
    }
}
