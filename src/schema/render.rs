//! Rendering a schema model as deterministic DDL-like text.
//!
//! The text is meant to be read in code review and compared with [`super::diff::unified`]; it
//! follows PostgreSQL's and SQLite's syntax closely but is not guaranteed to run as is (a
//! partition lists its columns in full, a sequence is `OWNED BY` a table created later).
//!
//! Rules:
//! - Sections in this order: schemas, extensions, types, sequences, tables, views and
//!   materialized views, routines, then the other catalog objects by kind (collations, text
//!   search dictionaries and configurations, foreign data wrappers, servers, operators,
//!   operator families and classes, casts, foreign tables, event triggers); within a section,
//!   objects in name order (the model's maps are sorted).
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
use std::collections::BTreeMap;

use super::model::{
    Column, Constraint, ConstraintKind, Extension, Generated, Identity, Index, IndexKey, Namespace,
    Object, ObjectKind, Policy, QualifiedName, Routine, Schema, Sequence, Table, Trigger, UserType,
    UserTypeKind, View,
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
        .chain(schema.objects.iter().flat_map(|(kind, objects)| {
            objects
                .iter()
                .map(|(name, object)| ddl.object(*kind, name, object))
        }))
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
                check_comments: _,
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
            UserTypeKind::Composite {
                attributes,
                collations,
            } => {
                let attributes: Vec<String> = attributes
                    .iter()
                    .map(|(attribute, data_type)| {
                        self.composite_attribute(attribute, data_type, collations.get(attribute))
                    })
                    .collect();
                format!("CREATE TYPE {quoted} AS {};\n", element_list(&attributes))
            }
            UserTypeKind::Range { subtype } => {
                format!("CREATE TYPE {quoted} AS RANGE (SUBTYPE = {subtype});\n")
            }
        };
        push_comment(&mut block, &type_target(name, user_type), comment);
        if let UserTypeKind::Domain { check_comments, .. } = kind {
            for (check, check_comment) in check_comments {
                block.push_str(&format!(
                    "COMMENT ON {} IS {};\n",
                    domain_check_target(name, check),
                    quote_literal(check_comment)
                ));
            }
        }
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
            // Derived from the parts' definitions, which are printed.
            depends_on: _,
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
        // SQLite takes AUTOINCREMENT only in a column's own PRIMARY KEY clause.
        let autoincrement = autoincrement_key(table);
        let elements: Vec<String> = columns
            .iter()
            .map(|column| match autoincrement {
                Some(key) => format!("{}{}", self.column(column), key_clause(key, column)),
                None => self.column(column),
            })
            .chain(
                constraints
                    .iter()
                    .filter(|(constraint, _)| {
                        autoincrement.is_none_or(|(key, _)| key != *constraint)
                    })
                    .map(|(constraint, definition)| {
                        constraint_element(constraint, &definition.definition)
                    }),
            )
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
        for (policy_name, policy) in policies {
            push_comment(
                &mut block,
                &policy_target(name, policy_name),
                &policy.comment,
            );
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
            // Inheritance: how the table came to have it, not how the column is spelled.
            also_local: _,
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
            comment: _,
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
            materialized: _,
            definition,
            indexes,
            triggers,
            options,
            // What the definition uses: printed as the definition.
            depends_on: _,
            comment,
        } = view;
        let quoted = quote_qualified(name.as_str());
        let object = view_keyword(view);
        // SQLite keeps the whole `CREATE VIEW` statement; PostgreSQL deparses only the query.
        let mut block = if starts_with_keyword(definition.trim_start(), "CREATE") {
            statement(definition)
        } else {
            let query = definition
                .trim_start_matches(['\n', '\r'])
                .trim_end()
                .trim_end_matches(';');
            format!(
                "CREATE {object} {quoted}{} AS\n{query};",
                view_options(options)
            )
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
            depends_on: _, // derived from the definition
            comment,
        } = routine;
        let mut block = statement(definition);
        block.push('\n');
        let target = format!("{} {signature}", kind.as_str().to_ascii_uppercase());
        push_comment(&mut block, &target, comment);
        block
    }

    /// An [`Object`]'s statements, then its comment.
    pub(super) fn object(&self, kind: ObjectKind, name: &str, object: &Object) -> String {
        let Object {
            definition,
            comment,
        } = object;
        let mut block = String::new();
        for part in definition {
            block.push_str(&statement(part));
            block.push('\n');
        }
        push_comment(&mut block, &object_target(kind, name), comment);
        block
    }

    fn push_index_and_trigger_comments(
        &self,
        block: &mut String,
        on: &QualifiedName,
        indexes: &BTreeMap<String, Index>,
        triggers: &BTreeMap<String, Trigger>,
    ) {
        // An index lives in its table's schema, so it is named with that schema.
        for (index_name, index) in indexes {
            let target = format!("INDEX {}", sibling_name(on, index_name));
            push_comment(block, &target, &index.comment);
        }
        for (trigger_name, trigger) in triggers {
            push_comment(block, &trigger_target(on, trigger_name), &trigger.comment);
        }
    }

    /// A composite type's attribute as `CREATE TYPE` and `ADD ATTRIBUTE` take it:
    /// `name type [COLLATE collation]`.
    pub(super) fn composite_attribute(
        &self,
        attribute: &str,
        data_type: &str,
        collation: Option<&String>,
    ) -> String {
        let mut text = format!("{} {data_type}", quote_identifier(attribute));
        if let Some(collation) = collation {
            text.push(' ');
            text.push_str(&self.collate(collation));
        }
        text
    }

    /// `COLLATE name`. PostgreSQL's collation names are case-sensitive (`"C"`, `"en_US"`) and
    /// quoted unless bare lower case; SQLite's are not (`NOCASE`), and stay as they are.
    /// A name already quoted or qualified, or a whole `COLLATE ...` clause, is kept.
    pub(super) fn collate(&self, collation: &str) -> String {
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

/// `CONSTRAINT name definition`, as in `CREATE TABLE`; just the definition for an unnamed
/// SQLite constraint, whose name the inspector derived from the definition itself
/// (`unique (email)` for `UNIQUE (email)`): printing it would invent a name.
pub(super) fn constraint_element(name: &str, definition: &str) -> String {
    let derived = name.contains(' ') && definition.to_lowercase().starts_with(&name.to_lowercase());
    if derived {
        definition.to_string()
    } else {
        format!("CONSTRAINT {} {definition}", quote_identifier(name))
    }
}

/// A SQLite primary key with `AUTOINCREMENT` (one column, by definition): SQLite takes it
/// only as the column's own clause (`id INTEGER PRIMARY KEY AUTOINCREMENT`), never as a
/// table constraint.
pub(super) fn autoincrement_key(table: &Table) -> Option<(&String, &Constraint)> {
    table.constraints.iter().find(|(_, constraint)| {
        constraint.kind == ConstraintKind::PrimaryKey
            && constraint.columns.len() == 1
            && constraint
                .definition
                .to_ascii_uppercase()
                .contains("AUTOINCREMENT")
    })
}

/// The column clause of [`autoincrement_key`]'s key for `column` (` PRIMARY KEY
/// AUTOINCREMENT`, with its name and conflict clause), or nothing for another column.
pub(super) fn key_clause((name, key): (&String, &Constraint), column: &Column) -> String {
    if key.columns.first() != Some(&column.name) {
        return String::new();
    }
    // A derived name (the inspector's, with a space) was not written: it is not printed.
    let named = if name.contains(' ') {
        String::new()
    } else {
        format!(" CONSTRAINT {}", quote_identifier(name))
    };
    // `PRIMARY KEY (id) AUTOINCREMENT` → `PRIMARY KEY AUTOINCREMENT`.
    let clause = key
        .definition
        .replacen(&format!("({})", quote_identifier(&column.name)), "", 1)
        .replace("  ", " ");
    format!("{named} {clause}")
}

/// `POLICY name ON table`, what `COMMENT ON` and `DROP` name a policy by.
pub(super) fn policy_target(on: &QualifiedName, name: &str) -> String {
    format!(
        "POLICY {} ON {}",
        quote_identifier(name),
        quote_qualified(on.as_str())
    )
}

/// `CONSTRAINT check ON DOMAIN domain`, what `COMMENT ON` names a domain's check by.
pub(super) fn domain_check_target(domain: &QualifiedName, check: &str) -> String {
    format!(
        "CONSTRAINT {} ON DOMAIN {}",
        quote_identifier(check),
        quote_qualified(domain.as_str())
    )
}

/// `TRIGGER name ON table`, what `COMMENT ON` and `DROP` name a trigger by.
pub(super) fn trigger_target(on: &QualifiedName, name: &str) -> String {
    format!(
        "TRIGGER {} ON {}",
        quote_identifier(name),
        quote_qualified(on.as_str())
    )
}

/// The schema-qualified, quoted name of an index (or another object that lives in its
/// table's schema) called `name` on the table `on`.
pub(super) fn sibling_name(on: &QualifiedName, name: &str) -> String {
    match on.as_str().split_once('.') {
        Some((schema, _)) => format!("{}.{}", quote_identifier(schema), quote_identifier(name)),
        None => quote_identifier(name).into_owned(),
    }
}

/// `TYPE name` or `DOMAIN name`, what `COMMENT ON` and `DROP` name a type by.
pub(super) fn type_target(name: &QualifiedName, user_type: &UserType) -> String {
    let object = match user_type.kind {
        UserTypeKind::Domain { .. } => "DOMAIN",
        _ => "TYPE",
    };
    format!("{object} {}", quote_qualified(name.as_str()))
}

/// `VIEW` or `MATERIALIZED VIEW`, as statements name the kind of view.
pub(super) fn view_keyword(view: &View) -> &'static str {
    if view.materialized {
        "MATERIALIZED VIEW"
    } else {
        "VIEW"
    }
}

/// ` WITH (key=value, ...)` for a view's options, as `CREATE VIEW` takes them; empty when there
/// are none. `check_option` goes there too: PostgreSQL takes it as an option as well as in the
/// `WITH ... CHECK OPTION` clause, and this way one spelling serves `CREATE` and `ALTER`.
pub(super) fn view_options(options: &[String]) -> String {
    if options.is_empty() {
        String::new()
    } else {
        format!(" WITH ({})", options.join(", "))
    }
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

/// What `DROP` and `COMMENT ON` name an [`Object`] by: `OPERATOR CLASS x USING btree`.
pub(super) fn object_target(kind: ObjectKind, name: &str) -> String {
    format!("{} {name}", kind.keyword())
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
pub(super) fn statement(definition: &str) -> String {
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

/// Hand-made schemas with every feature of the model, for the tests of this module and of
/// [`super::diff`].
#[cfg(test)]
pub(super) mod fixtures {
    use std::collections::BTreeMap;

    use crate::dialect::Dialect;
    use crate::schema::model::{
        Column, Constraint, ConstraintKind, Dependency, DependencyKind, Extension, Generated,
        Identity, Index, IndexKey, Namespace, PartitionOf, Policy, QualifiedName, References,
        Routine, RoutineKind, Schema, Sequence, Table, TableDependencies, Trigger, UserType,
        UserTypeKind, View,
    };

    pub(in crate::schema) fn name(name: &str) -> QualifiedName {
        match name.split_once('.') {
            Some((schema, object)) => QualifiedName::new(schema, object),
            None => QualifiedName::new("public", name),
        }
    }

    pub(in crate::schema) fn not_null(name: &str, data_type: &str) -> Column {
        Column {
            nullable: false,
            ..Column::new(name, data_type)
        }
    }

    pub(in crate::schema) fn constraint(kind: ConstraintKind, definition: &str) -> Constraint {
        Constraint {
            kind,
            definition: definition.to_string(),
            columns: Vec::new(),
            references: None,
            comment: None,
        }
    }

    pub(in crate::schema) fn btree(keys: &[&str]) -> Index {
        Index {
            unique: false,
            method: "btree".to_string(),
            keys: keys.iter().map(|key| IndexKey::column(key)).collect(),
            include: Vec::new(),
            predicate: None,
            nulls_not_distinct: false,
            comment: None,
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    /// A PostgreSQL schema: every type kind, sequences, tables with every column, constraint
    /// and index feature, triggers, row-level security, policies, partitions, inheritance,
    /// views, a materialized view with an index, routines, and comments on everything.
    pub(in crate::schema) fn postgres() -> Schema {
        let mut schema = Schema::empty(Dialect::Postgres);
        schema.schemas.insert(
            "audit".to_string(),
            Namespace {
                comment: Some("Who did what".to_string()),
            },
        );
        schema.extensions.insert(
            "pg_trgm".to_string(),
            Extension {
                schema: "public".to_string(),
            },
        );

        schema.types.insert(
            name("mood"),
            UserType {
                kind: UserTypeKind::Enum {
                    labels: strings(&["sad", "ok", "happy"]),
                },
                comment: Some("How it went".to_string()),
            },
        );
        schema.types.insert(
            name("email"),
            UserType {
                kind: UserTypeKind::Domain {
                    base_type: "text".to_string(),
                    not_null: true,
                    default: Some("''::text".to_string()),
                    collation: Some("C".to_string()),
                    checks: BTreeMap::from([(
                        "email_check".to_string(),
                        "CHECK ((VALUE ~~ '%@%'::text))".to_string(),
                    )]),
                    check_comments: BTreeMap::from([(
                        "email_check".to_string(),
                        "Has an at sign".to_string(),
                    )]),
                },
                comment: None,
            },
        );
        schema.types.insert(
            name("address"),
            UserType {
                kind: UserTypeKind::Composite {
                    attributes: vec![
                        ("street".to_string(), "text".to_string()),
                        ("city".to_string(), "character varying(80)".to_string()),
                    ],
                    collations: BTreeMap::from([("city".to_string(), "C".to_string())]),
                },
                comment: None,
            },
        );
        schema.types.insert(
            name("floatrange"),
            UserType {
                kind: UserTypeKind::Range {
                    subtype: "double precision".to_string(),
                },
                comment: None,
            },
        );

        schema.sequences.insert(
            name("crates_id_seq"),
            Sequence {
                data_type: "integer".to_string(),
                start: 1,
                increment: 1,
                min_value: 1,
                max_value: 2147483647,
                cache: 1,
                cycle: false,
                owned_by: Some("crates.id".to_string()),
                comment: None,
            },
        );
        schema.sequences.insert(
            name("audit.ticket_seq"),
            Sequence {
                data_type: "bigint".to_string(),
                start: 1000,
                increment: 10,
                min_value: 1000,
                max_value: 9999,
                cache: 20,
                cycle: true,
                owned_by: None,
                comment: Some("Ticket numbers".to_string()),
            },
        );

        let mut crates = Table::new();
        crates.columns = vec![
            Column {
                default: Some("nextval('crates_id_seq'::regclass)".to_string()),
                ..not_null("id", "integer")
            },
            Column {
                comment: Some("The crate's name, as published".to_string()),
                ..not_null("name", "character varying")
            },
            Column::new("deleted_at", "timestamp with time zone"),
        ];
        crates.constraints.insert(
            "crates_pkey".to_string(),
            Constraint {
                columns: strings(&["id"]),
                ..constraint(ConstraintKind::PrimaryKey, "PRIMARY KEY (id)")
            },
        );
        crates.indexes.insert(
            "index_crates_name".to_string(),
            Index {
                unique: true,
                predicate: Some("(deleted_at IS NULL)".to_string()),
                ..btree(&["name"])
            },
        );
        schema.tables.insert(name("crates"), crates);

        let mut users = Table::new();
        users.columns = vec![
            Column {
                identity: Some(Identity {
                    generation: "ALWAYS".to_string(),
                    start: 1,
                    increment: 1,
                    min_value: 1,
                    max_value: 9223372036854775807,
                    cache: 1,
                    cycle: false,
                }),
                ..not_null("id", "bigint")
            },
            Column {
                comment: Some("Where we write".to_string()),
                ..not_null("email", "email")
            },
            Column {
                collation: Some("C".to_string()),
                ..Column::new("Display Name", "text")
            },
            Column {
                default: Some("'ok'::mood".to_string()),
                ..not_null("mood", "mood")
            },
            Column {
                generated: Some(Generated {
                    expression: "to_tsvector('simple'::regconfig, (email)::text)".to_string(),
                    storage: "STORED".to_string(),
                }),
                ..Column::new("search", "tsvector")
            },
            Column::new("order", "integer[]"),
            Column::new("crate_id", "integer"),
        ];
        users.constraints.insert(
            "users_pkey".to_string(),
            Constraint {
                columns: strings(&["id"]),
                comment: Some("It's the key".to_string()),
                ..constraint(ConstraintKind::PrimaryKey, "PRIMARY KEY (id)")
            },
        );
        users.constraints.insert(
            "users_email_key".to_string(),
            Constraint {
                columns: strings(&["email"]),
                ..constraint(ConstraintKind::Unique, "UNIQUE (email)")
            },
        );
        users.constraints.insert(
            "users_order_check".to_string(),
            constraint(
                ConstraintKind::Check,
                "CHECK ((cardinality(\"order\") < 10))",
            ),
        );
        users.constraints.insert(
            "users_crate_id_fkey".to_string(),
            Constraint {
                columns: strings(&["crate_id"]),
                references: Some(References {
                    table: name("crates"),
                    columns: strings(&["id"]),
                }),
                ..constraint(
                    ConstraintKind::ForeignKey,
                    "FOREIGN KEY (crate_id) REFERENCES crates(id) ON DELETE CASCADE DEFERRABLE",
                )
            },
        );
        users.indexes.insert(
            "users_search_idx".to_string(),
            Index {
                method: "gin".to_string(),
                ..btree(&["search"])
            },
        );
        users.indexes.insert(
            "users_lower_email_idx".to_string(),
            Index {
                unique: true,
                keys: vec![IndexKey {
                    opclass: Some("text_pattern_ops".to_string()),
                    ..IndexKey::column("lower((email)::text)")
                }],
                include: strings(&["id", "Display Name"]),
                nulls_not_distinct: true,
                comment: Some("Case-insensitive logins".to_string()),
                ..btree(&[])
            },
        );
        users.indexes.insert(
            "users_name_idx".to_string(),
            Index {
                keys: vec![
                    IndexKey {
                        collation: Some("C".to_string()),
                        descending: true,
                        nulls: Some("NULLS LAST".to_string()),
                        ..IndexKey::column("Display Name")
                    },
                    IndexKey::column("id"),
                ],
                predicate: Some("(mood <> 'sad'::mood)".to_string()),
                ..btree(&[])
            },
        );
        users.triggers.insert(
            "users_touch".to_string(),
            Trigger {
                definition: "CREATE TRIGGER users_touch BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION touch()".to_string(),
                enabled: Some("D".to_string()),
                comment: Some("Keeps updated_at".to_string()),
            },
        );
        users.row_security = true;
        users.force_row_security = true;
        users.policies.insert(
            "users_own".to_string(),
            Policy {
                command: "ALL".to_string(),
                permissive: true,
                roles: strings(&["Admins", "app_user"]),
                using: Some("(email = (current_setting('app.email'::text))::email)".to_string()),
                with_check: None,
                comment: Some("Admins see all".to_string()),
            },
        );
        users.policies.insert(
            "users_no_sad".to_string(),
            Policy {
                command: "INSERT".to_string(),
                permissive: false,
                roles: strings(&["public"]),
                using: None,
                with_check: Some("mood <> 'sad'::mood".to_string()),
                comment: None,
            },
        );
        users.comment = Some("People".to_string());
        // As the catalog records it (`pg_depend`).
        let column = |table: &str, column: &str| Dependency {
            kind: DependencyKind::Relation,
            name: name(table),
            column: Some(column.to_string()),
        };
        let user = |c: &str| column("users", c);
        let used = |kind, object: &str| Dependency {
            kind,
            name: name(object),
            column: None,
        };
        let mood = || used(DependencyKind::Type, "mood");
        users.depends_on = TableDependencies {
            columns: BTreeMap::from([
                ("mood".to_string(), vec![mood()]),
                ("search".to_string(), vec![user("email")]),
            ]),
            constraints: BTreeMap::from([
                ("users_pkey".to_string(), vec![user("id")]),
                ("users_email_key".to_string(), vec![user("email")]),
                ("users_order_check".to_string(), vec![user("order")]),
                (
                    "users_crate_id_fkey".to_string(),
                    vec![column("crates", "id"), user("crate_id")],
                ),
            ]),
            indexes: BTreeMap::from([
                ("users_search_idx".to_string(), vec![user("search")]),
                (
                    "users_lower_email_idx".to_string(),
                    vec![user("Display Name"), user("email"), user("id")],
                ),
                (
                    "users_name_idx".to_string(),
                    vec![user("Display Name"), user("id"), user("mood"), mood()],
                ),
            ]),
            triggers: BTreeMap::from([(
                "users_touch".to_string(),
                vec![used(DependencyKind::Routine, "touch")],
            )]),
            policies: BTreeMap::from([
                (
                    "users_own".to_string(),
                    vec![user("email"), used(DependencyKind::Type, "email")],
                ),
                ("users_no_sad".to_string(), vec![user("mood"), mood()]),
            ]),
        };
        schema.tables.insert(name("users"), users);

        let mut events = Table::new();
        events.columns = vec![
            not_null("id", "bigint"),
            not_null("created_at", "timestamp with time zone"),
        ];
        events.partition_by = Some("RANGE (created_at)".to_string());
        schema.tables.insert(name("events"), events);

        let mut events_2024 = Table::new();
        events_2024.columns = vec![
            not_null("id", "bigint"),
            not_null("created_at", "timestamp with time zone"),
        ];
        events_2024.partition_of = Some(PartitionOf {
            parent: name("events"),
            bound: "FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00')"
                .to_string(),
        });
        schema.tables.insert(name("events_2024"), events_2024);

        let mut entry = Table::new();
        entry.columns = vec![Column::new("at", "timestamp with time zone")];
        schema.tables.insert(name("audit.entry"), entry);

        let mut log = Table::new();
        log.columns = vec![
            Column::new("at", "timestamp with time zone"),
            Column::new("what", "text"),
        ];
        log.inherits = vec![name("audit.entry")];
        log.options = strings(&["UNLOGGED"]);
        log.indexes.insert(
            "log_at_idx".to_string(),
            Index {
                method: "brin".to_string(),
                comment: Some("Time range scans".to_string()),
                ..btree(&["at"])
            },
        );
        schema.tables.insert(name("audit.log"), log);

        schema.views.insert(
            name("cheerful_users"),
            View {
                materialized: false,
                definition: " SELECT id,\n    email\n   FROM users\n  WHERE (mood <> 'sad'::mood);"
                    .to_string(),
                indexes: BTreeMap::new(),
                triggers: BTreeMap::from([(
                    "cheerful_users_insert".to_string(),
                    Trigger {
                        definition: "CREATE TRIGGER cheerful_users_insert INSTEAD OF INSERT ON public.cheerful_users FOR EACH ROW EXECUTE FUNCTION insert_user()".to_string(),
                        enabled: None,
                        comment: None,
                    },
                )]),
                options: strings(&["check_option=local", "security_invoker=true"]),
                depends_on: vec![
                    Dependency {
                        kind: DependencyKind::Relation,
                        name: name("users"),
                        column: None,
                    },
                    Dependency {
                        kind: DependencyKind::Type,
                        name: name("mood"),
                        column: None,
                    },
                ],
                comment: Some("Users who are not sad".to_string()),
            },
        );
        schema.views.insert(
            name("crate_counts"),
            View {
                materialized: true,
                definition: " SELECT count(*) AS total\n   FROM crates;".to_string(),
                indexes: BTreeMap::from([(
                    "crate_counts_total_idx".to_string(),
                    Index {
                        unique: true,
                        ..btree(&["total"])
                    },
                )]),
                triggers: BTreeMap::new(),
                options: Vec::new(),
                depends_on: vec![Dependency {
                    kind: DependencyKind::Relation,
                    name: name("crates"),
                    column: None,
                }],
                comment: None,
            },
        );

        schema.routines.insert(
            "touch()".to_string(),
            Routine {
                kind: RoutineKind::Function,
                language: "plpgsql".to_string(),
                returns: "trigger".to_string(),
                definition: "CREATE OR REPLACE FUNCTION public.touch()\n RETURNS trigger\n LANGUAGE plpgsql\nAS $function$\nBEGIN\n  NEW.updated_at := now();\n  RETURN NEW;\nEND;\n$function$\n".to_string(),
                depends_on: Vec::new(),
                comment: Some("Sets updated_at".to_string()),
            },
        );
        schema.routines.insert(
            "archive(integer)".to_string(),
            Routine {
                kind: RoutineKind::Procedure,
                language: "sql".to_string(),
                returns: String::new(),
                definition: "CREATE OR REPLACE PROCEDURE public.archive(IN days integer)\n LANGUAGE sql\nAS $procedure$DELETE FROM events WHERE created_at < now() - make_interval(days => days)$procedure$\n".to_string(),
                depends_on: Vec::new(),
                comment: None,
            },
        );
        schema.routines.insert(
            "total(integer)".to_string(),
            Routine {
                kind: RoutineKind::Aggregate,
                language: "internal".to_string(),
                returns: "bigint".to_string(),
                definition:
                    "CREATE AGGREGATE public.total(integer) (SFUNC = int4_sum, STYPE = bigint);"
                        .to_string(),
                depends_on: Vec::new(),
                comment: Some("Sum as bigint".to_string()),
            },
        );
        schema
    }

    /// A SQLite schema: typed and untyped columns, collations, generated columns, `STRICT`
    /// and `WITHOUT ROWID` tables, constraints, partial and expression indexes, a trigger, and
    /// views stored both as a whole statement and as a query.
    pub(in crate::schema) fn sqlite() -> Schema {
        let mut schema = Schema::empty(Dialect::Sqlite);

        let mut authors = Table::new();
        authors.columns = vec![
            not_null("id", "INTEGER"),
            Column {
                collation: Some("NOCASE".to_string()),
                ..not_null("name", "TEXT")
            },
            Column {
                default: Some("''".to_string()),
                ..Column::new("bio", "TEXT")
            },
            Column {
                generated: Some(Generated {
                    expression: "lower(name)".to_string(),
                    storage: "VIRTUAL".to_string(),
                }),
                ..Column::new("slug", "TEXT")
            },
            Column::new("extra", ""),
        ];
        authors.constraints.insert(
            "authors_pkey".to_string(),
            Constraint {
                columns: strings(&["id"]),
                ..constraint(ConstraintKind::PrimaryKey, "PRIMARY KEY (id)")
            },
        );
        authors.options = strings(&["STRICT"]);
        authors.indexes.insert(
            "authors_slug_idx".to_string(),
            Index {
                unique: true,
                predicate: Some("slug IS NOT NULL".to_string()),
                ..btree(&["slug"])
            },
        );
        authors.indexes.insert(
            "authors_lower_name_idx".to_string(),
            Index {
                keys: vec![
                    IndexKey {
                        descending: true,
                        ..IndexKey::column("lower(name)")
                    },
                    IndexKey {
                        collation: Some("BINARY".to_string()),
                        ..IndexKey::column("id")
                    },
                ],
                ..btree(&[])
            },
        );
        schema.tables.insert(name("authors"), authors);

        let mut posts = Table::new();
        posts.columns = vec![
            not_null("id", "INTEGER"),
            not_null("author_id", "INTEGER"),
            Column::new("title", "VARCHAR(200)"),
            Column::new("Body", "TEXT"),
        ];
        posts.constraints.insert(
            "posts_pkey".to_string(),
            Constraint {
                columns: strings(&["id"]),
                ..constraint(ConstraintKind::PrimaryKey, "PRIMARY KEY (id)")
            },
        );
        posts.constraints.insert(
            "posts_author_id_fkey".to_string(),
            Constraint {
                columns: strings(&["author_id"]),
                references: Some(References {
                    table: name("authors"),
                    columns: strings(&["id"]),
                }),
                ..constraint(
                    ConstraintKind::ForeignKey,
                    "FOREIGN KEY (author_id) REFERENCES authors(id) ON DELETE CASCADE",
                )
            },
        );
        posts.constraints.insert(
            "posts_title_check".to_string(),
            constraint(ConstraintKind::Check, "CHECK (length(title) > 0)"),
        );
        posts.constraints.insert(
            "posts_title_key".to_string(),
            Constraint {
                columns: strings(&["author_id", "title"]),
                ..constraint(ConstraintKind::Unique, "UNIQUE (author_id, title)")
            },
        );
        posts.options = strings(&["WITHOUT ROWID"]);
        posts.triggers.insert(
            "posts_no_empty_body".to_string(),
            Trigger {
                definition: "CREATE TRIGGER posts_no_empty_body BEFORE INSERT ON posts\nWHEN NEW.\"Body\" = ''\nBEGIN\n  SELECT RAISE(ABORT, 'empty body');\nEND".to_string(),
                enabled: None,
                comment: None,
            },
        );
        schema.tables.insert(name("posts"), posts);

        schema.views.insert(
            name("recent_posts"),
            View {
                materialized: false,
                definition:
                    "CREATE VIEW recent_posts AS SELECT id, title FROM posts ORDER BY id DESC LIMIT 10"
                        .to_string(),
                indexes: BTreeMap::new(),
                triggers: BTreeMap::new(),
                options: Vec::new(),
                depends_on: Vec::new(),
                comment: None,
            },
        );
        schema.views.insert(
            name("author_names"),
            View {
                materialized: false,
                definition: "SELECT name FROM authors".to_string(),
                indexes: BTreeMap::new(),
                triggers: BTreeMap::new(),
                options: Vec::new(),
                depends_on: Vec::new(),
                comment: None,
            },
        );
        schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::model::{ConstraintKind, PartitionOf};

    const POSTGRES_RENDERED: &str = r#"CREATE SCHEMA audit;
COMMENT ON SCHEMA audit IS 'Who did what';

CREATE EXTENSION pg_trgm WITH SCHEMA public;

CREATE TYPE address AS (
    street text,
    city character varying(80) COLLATE "C"
);

CREATE DOMAIN email AS text
    COLLATE "C"
    DEFAULT ''::text
    NOT NULL
    CONSTRAINT email_check CHECK ((VALUE ~~ '%@%'::text));
COMMENT ON CONSTRAINT email_check ON DOMAIN email IS 'Has an at sign';

CREATE TYPE floatrange AS RANGE (SUBTYPE = double precision);

CREATE TYPE mood AS ENUM (
    'sad',
    'ok',
    'happy'
);
COMMENT ON TYPE mood IS 'How it went';

CREATE SEQUENCE audit.ticket_seq
    AS bigint
    START WITH 1000
    INCREMENT BY 10
    MINVALUE 1000
    MAXVALUE 9999
    CACHE 20
    CYCLE;
COMMENT ON SEQUENCE audit.ticket_seq IS 'Ticket numbers';

CREATE SEQUENCE crates_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    MINVALUE 1
    MAXVALUE 2147483647
    CACHE 1
    OWNED BY crates.id;

CREATE TABLE audit.entry (
    at timestamp with time zone
);

CREATE UNLOGGED TABLE audit.log (
    at timestamp with time zone,
    what text
) INHERITS (audit.entry);
CREATE INDEX log_at_idx ON audit.log USING brin (at);
COMMENT ON INDEX audit.log_at_idx IS 'Time range scans';

CREATE TABLE crates (
    id integer NOT NULL DEFAULT nextval('crates_id_seq'::regclass),
    name character varying NOT NULL,
    deleted_at timestamp with time zone,
    CONSTRAINT crates_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX index_crates_name ON crates USING btree (name) WHERE (deleted_at IS NULL);
COMMENT ON COLUMN crates.name IS 'The crate''s name, as published';

CREATE TABLE events (
    id bigint NOT NULL,
    created_at timestamp with time zone NOT NULL
) PARTITION BY RANGE (created_at);

CREATE TABLE events_2024 PARTITION OF events (
    id bigint NOT NULL,
    created_at timestamp with time zone NOT NULL
) FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00');

CREATE TABLE users (
    id bigint NOT NULL GENERATED ALWAYS AS IDENTITY (START WITH 1 INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 CACHE 1),
    email email NOT NULL,
    "Display Name" text COLLATE "C",
    mood mood NOT NULL DEFAULT 'ok'::mood,
    search tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, (email)::text)) STORED,
    "order" integer[],
    crate_id integer,
    CONSTRAINT users_crate_id_fkey FOREIGN KEY (crate_id) REFERENCES crates(id) ON DELETE CASCADE DEFERRABLE,
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_order_check CHECK ((cardinality("order") < 10)),
    CONSTRAINT users_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX users_lower_email_idx ON users USING btree ((lower((email)::text)) text_pattern_ops) INCLUDE (id, "Display Name") NULLS NOT DISTINCT;
CREATE INDEX users_name_idx ON users USING btree ("Display Name" COLLATE "C" DESC NULLS LAST, id) WHERE (mood <> 'sad'::mood);
CREATE INDEX users_search_idx ON users USING gin (search);
CREATE TRIGGER users_touch BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION touch();
ALTER TABLE users DISABLE TRIGGER users_touch;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_no_sad ON users AS RESTRICTIVE FOR INSERT TO public WITH CHECK (mood <> 'sad'::mood);
CREATE POLICY users_own ON users FOR ALL TO "Admins", app_user USING (email = (current_setting('app.email'::text))::email);
COMMENT ON TABLE users IS 'People';
COMMENT ON COLUMN users.email IS 'Where we write';
COMMENT ON CONSTRAINT users_pkey ON users IS 'It''s the key';
COMMENT ON POLICY users_own ON users IS 'Admins see all';
COMMENT ON INDEX users_lower_email_idx IS 'Case-insensitive logins';
COMMENT ON TRIGGER users_touch ON users IS 'Keeps updated_at';

CREATE VIEW cheerful_users WITH (check_option=local, security_invoker=true) AS
 SELECT id,
    email
   FROM users
  WHERE (mood <> 'sad'::mood);
CREATE TRIGGER cheerful_users_insert INSTEAD OF INSERT ON public.cheerful_users FOR EACH ROW EXECUTE FUNCTION insert_user();
COMMENT ON VIEW cheerful_users IS 'Users who are not sad';

CREATE MATERIALIZED VIEW crate_counts AS
 SELECT count(*) AS total
   FROM crates;
CREATE UNIQUE INDEX crate_counts_total_idx ON crate_counts USING btree (total);

CREATE OR REPLACE PROCEDURE public.archive(IN days integer)
 LANGUAGE sql
AS $procedure$DELETE FROM events WHERE created_at < now() - make_interval(days => days)$procedure$;

CREATE AGGREGATE public.total(integer) (SFUNC = int4_sum, STYPE = bigint);
COMMENT ON AGGREGATE total(integer) IS 'Sum as bigint';

CREATE OR REPLACE FUNCTION public.touch()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$function$;
COMMENT ON FUNCTION touch() IS 'Sets updated_at';
"#;

    const SQLITE_RENDERED: &str = r#"CREATE TABLE authors (
    id INTEGER NOT NULL,
    name TEXT COLLATE NOCASE NOT NULL,
    bio TEXT DEFAULT '',
    slug TEXT GENERATED ALWAYS AS (lower(name)) VIRTUAL,
    extra,
    CONSTRAINT authors_pkey PRIMARY KEY (id)
) STRICT;
CREATE INDEX authors_lower_name_idx ON authors ((lower(name)) DESC, id COLLATE BINARY);
CREATE UNIQUE INDEX authors_slug_idx ON authors (slug) WHERE slug IS NOT NULL;

CREATE TABLE posts (
    id INTEGER NOT NULL,
    author_id INTEGER NOT NULL,
    title VARCHAR(200),
    "Body" TEXT,
    CONSTRAINT posts_author_id_fkey FOREIGN KEY (author_id) REFERENCES authors(id) ON DELETE CASCADE,
    CONSTRAINT posts_pkey PRIMARY KEY (id),
    CONSTRAINT posts_title_check CHECK (length(title) > 0),
    CONSTRAINT posts_title_key UNIQUE (author_id, title)
) WITHOUT ROWID;
CREATE TRIGGER posts_no_empty_body BEFORE INSERT ON posts
WHEN NEW."Body" = ''
BEGIN
  SELECT RAISE(ABORT, 'empty body');
END;

CREATE VIEW author_names AS
SELECT name FROM authors;

CREATE VIEW recent_posts AS SELECT id, title FROM posts ORDER BY id DESC LIMIT 10;
"#;

    #[test]
    fn renders_postgres_schema() {
        assert_eq!(render(&fixtures::postgres()), POSTGRES_RENDERED);
    }

    #[test]
    fn renders_sqlite_schema() {
        assert_eq!(render(&fixtures::sqlite()), SQLITE_RENDERED);
    }

    #[test]
    fn render_is_deterministic() {
        for schema in [fixtures::postgres(), fixtures::sqlite()] {
            let first = render(&schema);
            assert_eq!(render(&schema.clone()), first);
            // A model that went through its JSON form (maps rebuilt) renders the same.
            let json = serde_json::to_string(&schema).unwrap();
            let reread: Schema = serde_json::from_str(&json).unwrap();
            assert_eq!(render(&reread), first);
        }
    }

    #[test]
    fn empty_schema_renders_as_empty_string() {
        assert_eq!(render(&Schema::empty(Dialect::Postgres)), "");
        assert_eq!(render(&Schema::empty(Dialect::Sqlite)), "");
    }

    #[test]
    fn objects_are_separated_by_one_blank_line_and_text_ends_with_newline() {
        for schema in [fixtures::postgres(), fixtures::sqlite()] {
            let text = render(&schema);
            assert!(text.ends_with(";\n") && !text.ends_with("\n\n"));
            assert!(!text.contains("\n\n\n"));
        }
    }

    #[test]
    fn quotes_identifiers_only_when_needed() {
        let cases = [
            ("users", "users"),
            ("_private$1", "_private$1"),
            ("Users", "\"Users\""),
            ("order", "\"order\""),
            ("user", "\"user\""),
            ("index", "\"index\""),
            ("my column", "\"my column\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("1st", "\"1st\""),
            ("$x", "\"$x\""),
            ("café", "\"café\""),
            ("", "\"\""),
        ];
        for (name, quoted) in cases {
            assert_eq!(quote_identifier(name), quoted, "{name}");
        }
        assert_eq!(quote_qualified("audit.log"), "audit.log");
        assert_eq!(quote_qualified("App.Users"), "\"App\".\"Users\"");
        assert_eq!(quote_qualified("user"), "\"user\"");
    }

    #[test]
    fn reserved_words_are_sorted_and_lower_case() {
        assert!(RESERVED_WORDS.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(
            RESERVED_WORDS
                .iter()
                .all(|word| word.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
    }

    #[test]
    fn quotes_string_literals_by_doubling_quotes() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(""), "''");
        assert_eq!(quote_literal("two\nlines"), "'two\nlines'");
    }

    #[test]
    fn parenthesizes_expressions_once() {
        let cases = [
            ("deleted_at IS NULL", "(deleted_at IS NULL)"),
            ("(deleted_at IS NULL)", "(deleted_at IS NULL)"),
            ("  (a)  ", "(a)"),
            ("(a) + (b)", "((a) + (b))"),
            ("lower(name)", "(lower(name))"),
            ("(')' = x)", "(')' = x)"),
            ("('(' = x)", "('(' = x)"),
            ("(\")\" = x)", "(\")\" = x)"),
            ("('it''s' = x)", "('it''s' = x)"),
            ("(a))(", "((a))()"),
        ];
        for (expression, expected) in cases {
            assert_eq!(parenthesized(expression), expected, "{expression}");
        }
    }

    #[test]
    fn collations_are_quoted_as_each_dialect_needs() {
        let postgres = Ddl::new(Dialect::Postgres);
        assert_eq!(postgres.collate("C"), "COLLATE \"C\"");
        assert_eq!(postgres.collate("\"C\""), "COLLATE \"C\"");
        assert_eq!(postgres.collate("COLLATE \"C\""), "COLLATE \"C\"");
        assert_eq!(
            postgres.collate("pg_catalog.\"C\""),
            "COLLATE pg_catalog.\"C\""
        );
        assert_eq!(postgres.collate("en-x-icu"), "COLLATE \"en-x-icu\"");
        assert_eq!(postgres.collate("unicode"), "COLLATE unicode");
        let sqlite = Ddl::new(Dialect::Sqlite);
        assert_eq!(sqlite.collate("NOCASE"), "COLLATE NOCASE");
        assert_eq!(sqlite.collate("collate rtrim"), "COLLATE rtrim");
    }

    #[test]
    fn index_keys_tell_columns_from_expressions() {
        let ddl = Ddl::new(Dialect::Postgres);
        let columns = [Column::new("my col", "text"), Column::new("id", "integer")];
        let keys = [
            IndexKey::column("my col"),
            IndexKey::column("Id"),
            IndexKey::column("\"Quoted\""),
            IndexKey::column("id + 1"),
            IndexKey {
                nulls: Some("FIRST".to_string()),
                ..IndexKey::column("id")
            },
        ];
        assert_eq!(
            ddl.index_keys(&keys, &columns),
            "\"my col\", \"Id\", \"Quoted\", (id + 1), id NULLS FIRST"
        );
    }

    #[test]
    fn derived_constraint_names_are_not_printed() {
        assert_eq!(
            constraint_element("unique (email)", "UNIQUE (email)"),
            "UNIQUE (email)"
        );
        assert_eq!(
            constraint_element("users_email_key", "UNIQUE (email)"),
            "CONSTRAINT users_email_key UNIQUE (email)"
        );
        // Two identical checks: the second's name is told apart, so it is printed.
        assert_eq!(
            constraint_element("check (a > 0) (2)", "CHECK (a > 0)"),
            "CONSTRAINT \"check (a > 0) (2)\" CHECK (a > 0)"
        );
    }

    #[test]
    fn statements_end_with_one_semicolon() {
        assert_eq!(statement("SELECT 1"), "SELECT 1;");
        assert_eq!(statement("SELECT 1;\n"), "SELECT 1;");
        assert_eq!(statement("\nSELECT 1 \n"), "SELECT 1;");
    }

    #[test]
    fn trigger_states_other_than_enabled_are_spelled_out() {
        let ddl = Ddl::new(Dialect::Postgres);
        let on = fixtures::name("audit.log");
        let trigger = |enabled: &str| Trigger {
            definition:
                "CREATE TRIGGER t AFTER INSERT ON audit.log FOR EACH ROW EXECUTE FUNCTION f()"
                    .to_string(),
            enabled: Some(enabled.to_string()),
            comment: None,
        };
        let state = |enabled| {
            ddl.trigger(&on, "t", &trigger(enabled))
                .lines()
                .nth(1)
                .map(str::to_string)
        };
        assert_eq!(state("O"), None);
        assert_eq!(
            state("D").as_deref(),
            Some("ALTER TABLE audit.log DISABLE TRIGGER t;")
        );
        assert_eq!(
            state("R").as_deref(),
            Some("ALTER TABLE audit.log ENABLE REPLICA TRIGGER t;")
        );
        assert_eq!(
            state("A").as_deref(),
            Some("ALTER TABLE audit.log ENABLE ALWAYS TRIGGER t;")
        );
        assert_eq!(
            state("X").as_deref(),
            Some("-- trigger t on audit.log: enabled 'X'")
        );
    }

    #[test]
    fn renders_tables_and_types_without_elements() {
        let mut schema = Schema::empty(Dialect::Postgres);
        schema
            .tables
            .insert(fixtures::name("nothing"), Table::new());
        let mut partition = Table::new();
        partition.partition_of = Some(PartitionOf {
            parent: fixtures::name("events"),
            bound: "DEFAULT".to_string(),
        });
        schema
            .tables
            .insert(fixtures::name("events_other"), partition);
        schema.types.insert(
            fixtures::name("nothing_yet"),
            UserType {
                kind: UserTypeKind::Enum { labels: Vec::new() },
                comment: None,
            },
        );
        assert_eq!(
            render(&schema),
            "CREATE TYPE nothing_yet AS ENUM ();\n\n\
             CREATE TABLE events_other PARTITION OF events DEFAULT;\n\n\
             CREATE TABLE nothing ();\n"
        );
    }

    #[test]
    fn quotes_names_in_every_position() {
        let mut schema = Schema::empty(Dialect::Postgres);
        let mut table = Table::new();
        table.columns = vec![Column {
            comment: Some("x".to_string()),
            ..Column::new("Select", "text")
        }];
        table.constraints.insert(
            "Check".to_string(),
            fixtures::constraint(ConstraintKind::Check, "CHECK ((\"Select\" <> ''::text))"),
        );
        table
            .indexes
            .insert("Idx".to_string(), fixtures::btree(&["Select"]));
        schema.tables.insert(fixtures::name("My Schema.T"), table);
        assert_eq!(
            render(&schema),
            r#"CREATE TABLE "My Schema"."T" (
    "Select" text,
    CONSTRAINT "Check" CHECK (("Select" <> ''::text))
);
CREATE INDEX "Idx" ON "My Schema"."T" USING btree ("Select");
COMMENT ON COLUMN "My Schema"."T"."Select" IS 'x';
"#
        );
    }
}
