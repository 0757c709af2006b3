//! Rendering a schema model as deterministic DDL-like text.
//!
//! The text is meant to be read in code review and compared with [`super::diff::unified`]; it
//! follows PostgreSQL's and SQLite's syntax closely but is not guaranteed to run as is (a
//! partition lists its columns in full, a sequence is `OWNED BY` a table created later).
//!
//! Rules:
//! - Sections in this order: schemas, extensions, types, sequences, tables, views and
//!   materialized views, routines; within a section, objects in name order (the model's maps
//!   are sorted).
//! - One block per object, blocks separated by one blank line, the text ends with a newline.
//!   A table's block holds its `CREATE TABLE` (columns in declaration order, then constraints
//!   by name), its indexes, triggers, row-level security, policies and comments, in that order;
//!   a view's block its indexes, triggers and comment.
//! - Identifiers are quoted only when needed: anything but `[a-z_][a-z0-9_$]*`, and the few
//!   reserved words in [`RESERVED_WORDS`]. String literals are quoted with `'`, doubling `'`.
//! - Text the database deparsed (types, defaults, expressions, constraint definitions) is
//!   printed as is; routines' and triggers' definitions are whole statements, printed as is
//!   with a terminating `;`.
//! - An empty schema renders as the empty string, so that it diffs as nothing against another
//!   empty schema and an empty file.

use std::borrow::Cow;

use super::model::{
    Column, Extension, Generated, Identity, Index, IndexKey, Namespace, Policy, QualifiedName,
    Routine, Schema, Sequence, Table, Trigger, UserType, UserTypeKind, View,
};
use crate::dialect::Dialect;

/// The schema as text: the same schema gives the same text, byte for byte.
pub fn render(schema: &Schema) -> String {
    let ddl = Ddl::new(schema.dialect);
    let blocks: Vec<String> = schema
        .schemas
        .iter()
        .map(|(name, namespace)| ddl.namespace(name, namespace))
        .chain(
            schema
                .extensions
                .iter()
                .map(|(name, extension)| ddl.extension(name, extension)),
        )
        .chain(
            schema
                .types
                .iter()
                .map(|(name, user_type)| ddl.user_type(name, user_type)),
        )
        .chain(
            schema
                .sequences
                .iter()
                .map(|(name, sequence)| ddl.sequence(name, sequence)),
        )
        .chain(
            schema
                .tables
                .iter()
                .map(|(name, table)| ddl.table(name, table)),
        )
        .chain(schema.views.iter().map(|(name, view)| ddl.view(name, view)))
        .chain(
            schema
                .routines
                .iter()
                .map(|(signature, routine)| ddl.routine(signature, routine)),
        )
        .collect();
    // Every block ends with a newline, so joining with one more leaves one blank line between.
    blocks.join("\n")
}

/// Words that cannot be a bare column or table name: PostgreSQL's reserved key words, and the
/// few more SQLite rejects that commonly name a column. Sorted, for the binary search.
pub const RESERVED_WORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "current_catalog",
    "current_date",
    "current_role",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "grant",
    "group",
    "having",
    "in",
    "index",
    "initially",
    "intersect",
    "into",
    "lateral",
    "leading",
    "limit",
    "localtime",
    "localtimestamp",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "placing",
    "primary",
    "references",
    "returning",
    "select",
    "session_user",
    "some",
    "symmetric",
    "table",
    "then",
    "to",
    "trailing",
    "transaction",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "variadic",
    "when",
    "where",
    "window",
    "with",
];

/// `name` as an SQL identifier: bare when it is lower-case `[a-z_][a-z0-9_$]*` and not a
/// reserved word (so it reads the same folded or not), double-quoted otherwise.
pub fn quote_identifier(name: &str) -> Cow<'_, str> {
    let mut chars = name.chars();
    let bare = matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '$'))
        && RESERVED_WORDS.binary_search(&name).is_err();
    if bare {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(format!("\"{}\"", name.replace('"', "\"\"")))
    }
}

/// `text` as an SQL string literal.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A [`QualifiedName`]'s text as identifiers: `schema.name` is split at its first dot.
pub fn quote_qualified(name: &str) -> String {
    match name.split_once('.') {
        Some((schema, object)) => {
            format!("{}.{}", quote_identifier(schema), quote_identifier(object))
        }
        None => quote_identifier(name).into_owned(),
    }
}

/// The statements of one dialect. [`super::diff`] uses the same pieces to show what an added,
/// removed or altered object is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ddl {
    dialect: Dialect,
}

impl Ddl {
    pub(super) fn new(dialect: Dialect) -> Ddl {
        Ddl { dialect }
    }

    pub(super) fn namespace(&self, name: &str, namespace: &Namespace) -> String {
        let Namespace { comment } = namespace;
        let quoted = quote_identifier(name);
        let mut block = format!("CREATE SCHEMA {quoted};\n");
        push_comment(&mut block, &format!("SCHEMA {quoted}"), comment);
        block
    }

    pub(super) fn extension(&self, name: &str, extension: &Extension) -> String {
        let Extension { schema } = extension;
        let mut statement = format!("CREATE EXTENSION {}", quote_identifier(name));
        if !schema.is_empty() {
            statement.push_str(&format!(" WITH SCHEMA {}", quote_identifier(schema)));
        }
        statement + ";\n"
    }

    pub(super) fn user_type(&self, name: &QualifiedName, user_type: &UserType) -> String {
        let UserType { kind, comment } = user_type;
        let quoted = quote_qualified(name.as_str());
        let mut block = match kind {
            UserTypeKind::Enum { labels } => {
                let labels: Vec<String> = labels.iter().map(|label| quote_literal(label)).collect();
                format!("CREATE TYPE {quoted} AS ENUM {};\n", element_list(&labels))
            }
            UserTypeKind::Domain {
                base_type,
                not_null,
                default,
                collation,
                checks,
            } => {
                // One clause a line, so that a diff points at the clause that changed.
                let mut clauses = Vec::new();
                if let Some(collation) = collation {
                    clauses.push(self.collate(collation));
                }
                if let Some(default) = default {
                    clauses.push(format!("DEFAULT {default}"));
                }
                if *not_null {
                    clauses.push("NOT NULL".to_string());
                }
                for (check, definition) in checks {
                    clauses.push(format!(
                        "CONSTRAINT {} {definition}",
                        quote_identifier(check)
                    ));
                }
                let mut statement = format!("CREATE DOMAIN {quoted} AS {base_type}");
                for clause in clauses {
                    statement.push_str("\n    ");
                    statement.push_str(&clause);
                }
                statement + ";\n"
            }
            UserTypeKind::Composite { attributes } => {
                let attributes: Vec<String> = attributes
                    .iter()
                    .map(|(attribute, data_type)| {
                        format!("{} {data_type}", quote_identifier(attribute))
                    })
                    .collect();
                format!("CREATE TYPE {quoted} AS {};\n", element_list(&attributes))
            }
            UserTypeKind::Range { subtype } => {
                format!("CREATE TYPE {quoted} AS RANGE (SUBTYPE = {subtype});\n")
            }
        };
        let target = match kind {
            UserTypeKind::Domain { .. } => "DOMAIN",
            _ => "TYPE",
        };
        push_comment(&mut block, &format!("{target} {quoted}"), comment);
        block
    }

    pub(super) fn sequence(&self, name: &QualifiedName, sequence: &Sequence) -> String {
        let Sequence {
            data_type,
            start,
            increment,
            min_value,
            max_value,
            cache,
            cycle,
            owned_by,
            comment,
        } = sequence;
        let quoted = quote_qualified(name.as_str());
        let mut statement = format!("CREATE SEQUENCE {quoted}");
        if !data_type.is_empty() {
            statement.push_str(&format!("\n    AS {data_type}"));
        }
        statement.push_str(&format!(
            "\n    START WITH {start}\n    INCREMENT BY {increment}\n    MINVALUE {min_value}\n    MAXVALUE {max_value}\n    CACHE {cache}"
        ));
        if *cycle {
            statement.push_str("\n    CYCLE");
        }
        if let Some(owned_by) = owned_by {
            // `table.column`, the table possibly qualified: the column is after the last dot.
            let owner = match owned_by.rsplit_once('.') {
                Some((table, column)) => {
                    format!("{}.{}", quote_qualified(table), quote_identifier(column))
                }
                None => quote_identifier(owned_by).into_owned(),
            };
            statement.push_str(&format!("\n    OWNED BY {owner}"));
        }
        let mut block = statement + ";\n";
        push_comment(&mut block, &format!("SEQUENCE {quoted}"), comment);
        block
    }

    /// A table's whole block: `CREATE TABLE`, indexes, triggers, row-level security, policies
    /// and comments.
    pub(super) fn table(&self, name: &QualifiedName, table: &Table) -> String {
        let Table {
            columns,
            constraints,
            indexes,
            triggers,
            policies,
            row_security,
            force_row_security,
            partition_by,
            partition_of,
            inherits,
            options,
            comment,
        } = table;
        let quoted = quote_qualified(name.as_str());

        // `UNLOGGED` is written before `TABLE`; the other options (SQLite's `STRICT`,
        // `WITHOUT ROWID`) after the closing parenthesis.
        let (unlogged, trailing_options): (Vec<&String>, Vec<&String>) = options
            .iter()
            .partition(|option| option.eq_ignore_ascii_case("UNLOGGED"));
        let mut statement = String::from("CREATE ");
        if !unlogged.is_empty() {
            statement.push_str("UNLOGGED ");
        }
        statement.push_str(&format!("TABLE {quoted}"));
        if let Some(partition_of) = partition_of {
            statement.push_str(&format!(
                " PARTITION OF {}",
                quote_qualified(partition_of.parent.as_str())
            ));
        }
        let elements: Vec<String> = columns
            .iter()
            .map(|column| self.column(column))
            .chain(constraints.iter().map(|(constraint, definition)| {
                constraint_element(constraint, &definition.definition)
            }))
            .collect();
        // A partition without columns of its own reads like PostgreSQL's, without a list.
        if !(elements.is_empty() && partition_of.is_some()) {
            statement.push(' ');
            statement.push_str(&element_list(&elements));
        }
        if let Some(partition_of) = partition_of {
            statement.push_str(&format!(" {}", partition_of.bound));
        }
        if !inherits.is_empty() {
            let parents: Vec<String> = inherits
                .iter()
                .map(|parent| quote_qualified(parent.as_str()))
                .collect();
            statement.push_str(&format!(" INHERITS ({})", parents.join(", ")));
        }
        if let Some(partition_by) = partition_by {
            statement.push_str(&format!(" PARTITION BY {partition_by}"));
        }
        if !trailing_options.is_empty() {
            let trailing: Vec<&str> = trailing_options.iter().map(|o| o.as_str()).collect();
            statement.push(' ');
            statement.push_str(&trailing.join(", "));
        }
        let mut block = statement + ";\n";

        for (index_name, index) in indexes {
            block.push_str(&self.index(name, index_name, index, columns));
            block.push('\n');
        }
        for (trigger_name, trigger) in triggers {
            block.push_str(&self.trigger(name, trigger_name, trigger));
            block.push('\n');
        }
        if *row_security {
            block.push_str(&format!(
                "ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY;\n"
            ));
        }
        if *force_row_security {
            block.push_str(&format!("ALTER TABLE {quoted} FORCE ROW LEVEL SECURITY;\n"));
        }
        for (policy_name, policy) in policies {
            block.push_str(&self.policy(name, policy_name, policy));
            block.push('\n');
        }

        push_comment(&mut block, &format!("TABLE {quoted}"), comment);
        for column in columns {
            let target = format!("COLUMN {quoted}.{}", quote_identifier(&column.name));
            push_comment(&mut block, &target, &column.comment);
        }
        for (constraint_name, constraint) in constraints {
            let target = format!(
                "CONSTRAINT {} ON {quoted}",
                quote_identifier(constraint_name)
            );
            push_comment(&mut block, &target, &constraint.comment);
        }
        self.push_index_and_trigger_comments(&mut block, name, indexes, triggers);
        block
    }

    /// One column's definition, as in `CREATE TABLE`: `email text NOT NULL DEFAULT ''::text`.
    pub(super) fn column(&self, column: &Column) -> String {
        let Column {
            name,
            data_type,
            nullable,
            default,
            identity,
            generated,
            collation,
            comment: _,
        } = column;
        let mut definition = quote_identifier(name).into_owned();
        // SQLite columns may have no declared type.
        if !data_type.is_empty() {
            definition.push(' ');
            definition.push_str(data_type);
        }
        if let Some(collation) = collation {
            definition.push(' ');
            definition.push_str(&self.collate(collation));
        }
        if !nullable {
            definition.push_str(" NOT NULL");
        }
        if let Some(default) = default {
            definition.push_str(&format!(" DEFAULT {default}"));
        }
        if let Some(identity) = identity {
            definition.push(' ');
            definition.push_str(&self.identity(identity));
        }
        if let Some(generated) = generated {
            definition.push(' ');
            definition.push_str(&self.generated(generated));
        }
        definition
    }

    /// `GENERATED ALWAYS AS IDENTITY (START WITH 1 ...)`, every option spelled out: their
    /// defaults depend on the column's type.
    pub(super) fn identity(&self, identity: &Identity) -> String {
        let Identity {
            generation,
            start,
            increment,
            min_value,
            max_value,
            cache,
            cycle,
        } = identity;
        let cycle = if *cycle { " CYCLE" } else { "" };
        format!(
            "GENERATED {generation} AS IDENTITY (START WITH {start} INCREMENT BY {increment} \
             MINVALUE {min_value} MAXVALUE {max_value} CACHE {cache}{cycle})"
        )
    }

    /// `GENERATED ALWAYS AS (expression) STORED`.
    pub(super) fn generated(&self, generated: &Generated) -> String {
        let Generated {
            expression,
            storage,
        } = generated;
        format!(
            "GENERATED ALWAYS AS {} {storage}",
            parenthesized(expression)
        )
    }

    /// `CREATE [UNIQUE] INDEX name ON table USING method (keys) ...;`, without a newline.
    /// `columns` are the table's (empty for a view's index): they tell a key that is a
    /// column, printed as an identifier, from an expression, printed in parentheses.
    pub(super) fn index(
        &self,
        on: &QualifiedName,
        name: &str,
        index: &Index,
        columns: &[Column],
    ) -> String {
        let Index {
            unique,
            method,
            keys,
            include,
            predicate,
            nulls_not_distinct,
            comment: _,
        } = index;
        let unique = if *unique { "UNIQUE " } else { "" };
        let mut statement = format!(
            "CREATE {unique}INDEX {} ON {}",
            quote_identifier(name),
            quote_qualified(on.as_str())
        );
        // SQLite has one access method and no `USING` clause.
        if self.dialect != Dialect::Sqlite {
            statement.push_str(&format!(" USING {method}"));
        }
        statement.push_str(&format!(" ({})", self.index_keys(keys, columns)));
        if !include.is_empty() {
            statement.push_str(&format!(" INCLUDE ({})", identifier_list(include)));
        }
        if *nulls_not_distinct {
            statement.push_str(" NULLS NOT DISTINCT");
        }
        if let Some(predicate) = predicate {
            statement.push_str(&format!(" WHERE {predicate}"));
        }
        statement + ";"
    }

    /// An index's key parts, comma-separated: `(lower(email)) text_pattern_ops, id DESC`.
    pub(super) fn index_keys(&self, keys: &[IndexKey], columns: &[Column]) -> String {
        let keys: Vec<String> = keys
            .iter()
            .map(|key| self.index_key(key, columns))
            .collect();
        keys.join(", ")
    }

    fn index_key(&self, key: &IndexKey, columns: &[Column]) -> String {
        let IndexKey {
            expression,
            opclass,
            collation,
            descending,
            nulls,
        } = key;
        let mut part = if columns.iter().any(|column| &column.name == expression)
            || is_identifier_like(expression)
        {
            quote_identifier(expression).into_owned()
        } else if is_quoted_identifier(expression) {
            expression.clone()
        } else {
            parenthesized(expression).into_owned()
        };
        if let Some(collation) = collation {
            part.push(' ');
            part.push_str(&self.collate(collation));
        }
        if let Some(opclass) = opclass {
            part.push(' ');
            part.push_str(opclass);
        }
        if *descending {
            part.push_str(" DESC");
        }
        if let Some(nulls) = nulls {
            part.push(' ');
            part.push_str(&with_keyword("NULLS", nulls));
        }
        part
    }

    /// The trigger's statement, and the `ALTER TABLE` that disables it when it is not enabled.
    pub(super) fn trigger(&self, on: &QualifiedName, name: &str, trigger: &Trigger) -> String {
        let Trigger {
            definition,
            enabled,
            comment: _,
        } = trigger;
        let mut text = statement(definition);
        if let Some(enabled) = enabled {
            let table = quote_qualified(on.as_str());
            let trigger = quote_identifier(name);
            // The values of PostgreSQL's `pg_trigger.tgenabled`.
            let state = match enabled.as_str() {
                "O" => None,
                "D" => Some(format!("ALTER TABLE {table} DISABLE TRIGGER {trigger};")),
                "R" => Some(format!(
                    "ALTER TABLE {table} ENABLE REPLICA TRIGGER {trigger};"
                )),
                "A" => Some(format!(
                    "ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger};"
                )),
                other => Some(format!(
                    "-- trigger {trigger} on {table}: enabled {}",
                    quote_literal(other)
                )),
            };
            if let Some(state) = state {
                text.push('\n');
                text.push_str(&state);
            }
        }
        text
    }

    /// `CREATE POLICY name ON table [AS RESTRICTIVE] FOR command TO roles USING (...) ...;`.
    pub(super) fn policy(&self, on: &QualifiedName, name: &str, policy: &Policy) -> String {
        let Policy {
            command,
            permissive,
            roles,
            using,
            with_check,
        } = policy;
        let mut statement = format!(
            "CREATE POLICY {} ON {}",
            quote_identifier(name),
            quote_qualified(on.as_str())
        );
        if !permissive {
            statement.push_str(" AS RESTRICTIVE");
        }
        statement.push_str(&format!(" FOR {command}"));
        if !roles.is_empty() {
            statement.push_str(&format!(" TO {}", identifier_list(roles)));
        }
        if let Some(using) = using {
            statement.push_str(&format!(" USING {}", parenthesized(using)));
        }
        if let Some(with_check) = with_check {
            statement.push_str(&format!(" WITH CHECK {}", parenthesized(with_check)));
        }
        statement + ";"
    }

    /// A view's whole block: its statement, indexes, triggers and comment.
    pub(super) fn view(&self, name: &QualifiedName, view: &View) -> String {
        let View {
            materialized,
            definition,
            indexes,
            triggers,
            comment,
        } = view;
        let quoted = quote_qualified(name.as_str());
        let object = if *materialized {
            "MATERIALIZED VIEW"
        } else {
            "VIEW"
        };
        // SQLite keeps the whole `CREATE VIEW` statement; PostgreSQL deparses only the query.
        let mut block = if starts_with_keyword(definition.trim_start(), "CREATE") {
            statement(definition)
        } else {
            let query = definition
                .trim_start_matches(['\n', '\r'])
                .trim_end()
                .trim_end_matches(';');
            format!("CREATE {object} {quoted} AS\n{query};")
        };
        block.push('\n');
        for (index_name, index) in indexes {
            block.push_str(&self.index(name, index_name, index, &[]));
            block.push('\n');
        }
        for (trigger_name, trigger) in triggers {
            block.push_str(&self.trigger(name, trigger_name, trigger));
            block.push('\n');
        }
        push_comment(&mut block, &format!("{object} {quoted}"), comment);
        self.push_index_and_trigger_comments(&mut block, name, indexes, triggers);
        block
    }

    pub(super) fn routine(&self, signature: &str, routine: &Routine) -> String {
        let Routine {
            kind,
            language: _,
            returns: _,
            definition,
            comment,
        } = routine;
        let mut block = statement(definition);
        block.push('\n');
        let target = format!("{} {signature}", kind.as_str().to_ascii_uppercase());
        push_comment(&mut block, &target, comment);
        block
    }

    fn push_index_and_trigger_comments(
        &self,
        block: &mut String,
        on: &QualifiedName,
        indexes: &std::collections::BTreeMap<String, Index>,
        triggers: &std::collections::BTreeMap<String, Trigger>,
    ) {
        // An index lives in its table's schema, so it is named with that schema.
        let schema = on.as_str().split_once('.').map(|(schema, _)| schema);
        for (index_name, index) in indexes {
            let index_name = match schema {
                Some(schema) => format!(
                    "{}.{}",
                    quote_identifier(schema),
                    quote_identifier(index_name)
                ),
                None => quote_identifier(index_name).into_owned(),
            };
            push_comment(block, &format!("INDEX {index_name}"), &index.comment);
        }
        for (trigger_name, trigger) in triggers {
            let target = format!(
                "TRIGGER {} ON {}",
                quote_identifier(trigger_name),
                quote_qualified(on.as_str())
            );
            push_comment(block, &target, &trigger.comment);
        }
    }

    /// `COLLATE name`. PostgreSQL's collation names are case-sensitive (`"C"`, `"en_US"`) and
    /// quoted unless bare lower case; SQLite's are not (`NOCASE`), and stay as they are.
    /// A name already quoted or qualified, or a whole `COLLATE ...` clause, is kept.
    fn collate(&self, collation: &str) -> String {
        let name = strip_keyword(collation.trim(), "COLLATE").unwrap_or(collation.trim());
        let name = if name.starts_with('"')
            || name.contains('.')
            || (self.dialect == Dialect::Sqlite && is_identifier_like(name))
        {
            Cow::Borrowed(name)
        } else {
            quote_identifier(name)
        };
        format!("COLLATE {name}")
    }
}

/// `CONSTRAINT name definition`, as in `CREATE TABLE`.
pub(super) fn constraint_element(name: &str, definition: &str) -> String {
    format!("CONSTRAINT {} {definition}", quote_identifier(name))
}

/// A parenthesised list, one element a line: `(\n    a,\n    b\n)`; `()` when empty.
fn element_list(elements: &[String]) -> String {
    if elements.is_empty() {
        return "()".to_string();
    }
    let lines: Vec<String> = elements
        .iter()
        .map(|element| format!("    {element}"))
        .collect();
    format!("(\n{}\n)", lines.join(",\n"))
}

fn identifier_list(names: &[String]) -> String {
    let names: Vec<Cow<'_, str>> = names.iter().map(|name| quote_identifier(name)).collect();
    names.join(", ")
}

fn push_comment(block: &mut String, target: &str, comment: &Option<String>) {
    if let Some(comment) = comment {
        block.push_str(&format!(
            "COMMENT ON {target} IS {};\n",
            quote_literal(comment)
        ));
    }
}

/// A whole statement as stored, with surrounding whitespace trimmed and a terminating `;`.
fn statement(definition: &str) -> String {
    let definition = definition.trim();
    if definition.ends_with(';') {
        definition.to_string()
    } else {
        format!("{definition};")
    }
}

/// `expression` in parentheses, unless one pair already encloses all of it (PostgreSQL's
/// deparser often adds them: `(deleted_at IS NULL)`).
fn parenthesized(expression: &str) -> Cow<'_, str> {
    let expression = expression.trim();
    if is_enclosed_in_parentheses(expression) {
        Cow::Borrowed(expression)
    } else {
        Cow::Owned(format!("({expression})"))
    }
}

/// Whether the first character is `(` and its matching `)` is the last one, skipping what is
/// inside string literals and quoted identifiers.
fn is_enclosed_in_parentheses(text: &str) -> bool {
    if !(text.starts_with('(') && text.ends_with(')')) {
        return false;
    }
    let last = text.len() - 1;
    let mut depth = 0usize;
    let mut quote = None;
    for (at, c) in text.char_indices() {
        match (quote, c) {
            // A doubled quote closes and reopens, which comes to the same.
            (Some(open), _) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
                if depth == 0 && at != last {
                    return false;
                }
            }
            (None, _) => {}
        }
    }
    depth == 0 && quote.is_none()
}

/// `[A-Za-z_][A-Za-z0-9_$]*`: a name, in any case, as opposed to an expression.
fn is_identifier_like(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// `"..."` with only doubled quotes inside.
fn is_quoted_identifier(text: &str) -> bool {
    text.len() >= 2
        && text.starts_with('"')
        && text.ends_with('"')
        && !text[1..text.len() - 1].replace("\"\"", "").contains('"')
}

fn starts_with_keyword(text: &str, keyword: &str) -> bool {
    text.get(..keyword.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(keyword))
        && text[keyword.len()..].starts_with(char::is_whitespace)
}

/// The rest of `text` after a leading `keyword` and whitespace, if it starts with it.
fn strip_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    starts_with_keyword(text, keyword).then(|| text[keyword.len()..].trim_start())
}

/// `value` with `keyword` in front unless it already has it: `FIRST` → `NULLS FIRST`.
fn with_keyword(keyword: &str, value: &str) -> String {
    if starts_with_keyword(value, keyword) {
        value.to_string()
    } else {
        format!("{keyword} {value}")
    }
}
