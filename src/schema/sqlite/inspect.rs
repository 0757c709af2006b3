//! Inspecting a SQLite database from `sqlite_schema` and its pragmas.
//!
//! Four queries, whatever the number of tables: the objects (`sqlite_schema` with
//! `pragma_table_list`), the columns (`pragma_table_xinfo`), the keys of the constraints' and
//! explicit indexes (`pragma_index_list` with `pragma_index_xinfo`), and the foreign keys
//! (`pragma_foreign_key_list`), each pragma joined with the list of tables.
//! `pragma_table_list` (which tells `STRICT` and `WITHOUT ROWID` tables, and shadow tables)
//! needs SQLite 3.37; the SQLite bundled by sqlx is newer.
//!
//! SQLite keeps the text of each `CREATE` statement as the user wrote it, and edits it in place
//! on `ALTER TABLE ... ADD COLUMN` and `RENAME`, so the text of a table is never compared: the
//! model is built from the pragmas, and the statement is parsed only for what they do not
//! tell: check constraints, generated columns' expressions, declared collations, constraint
//! names, `AUTOINCREMENT`, conflict clauses and whether a foreign key is deferred. Views and
//! triggers are their statement, normalised ([`crate::schema::normalize`]).
//!
//! Unnamed constraints get a name derived from their definition: `primary key`,
//! `unique (a, b)`, `check (price > 0)`, `foreign key (user_id) references users(id)`, so the
//! same constraint has the same name in two databases. Definitions are spelled as PostgreSQL
//! prints them (`FOREIGN KEY (a) REFERENCES t(b) ON DELETE CASCADE`), default actions left out.
//!
//! Left out: `sqlite_*` tables (`sqlite_sequence`, `sqlite_stat1`, ...), the constraints' own
//! indexes (`sqlite_autoindex_*`, which are the constraints), the shadow tables of virtual
//! tables, and anything in the `temp` schema or attached databases.

use std::collections::{BTreeMap, HashMap};

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use crate::db::database_error;
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::schema::Excluded;
use crate::schema::model::{
    Column, Constraint, ConstraintKind, Dependency, DependencyKind, Generated, Index, IndexKey,
    QualifiedName, References, Schema, Table, TableDependencies, Trigger, View,
};
use crate::schema::normalize::{self, Lexeme, LexemeKind};

/// The only schema inspected.
const MAIN: &str = "main";

/// The tables whose columns, indexes and foreign keys are read: the main schema's ordinary
/// tables, but SQLite's own. Views are not there: `pragma_table_xinfo` would compile them, and
/// fail on a view whose table was dropped. Virtual tables are not there: reading their columns
/// needs their module, which may not be loaded.
const USER_TABLES: &str = "WITH user_tables AS ( \
        SELECT name FROM pragma_table_list \
        WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
    ) ";

/// Reads the schema of the database `conn` is connected to, leaving out `excluded` tables.
pub(crate) async fn inspect(conn: &mut SqliteConnection, excluded: &[Excluded]) -> Result<Schema> {
    let catalog = Catalog::read(conn).await?;
    let mut schema = catalog.into_schema(excluded);
    for (name, table) in &mut schema.tables {
        fill_dependencies(name, table);
    }
    Ok(schema)
}

/// What each part of `table` uses of the table's own columns. SQLite records no
/// dependencies, so they come from the parts' text, lexed once here: a column counts as used
/// where its name is a name token (quoted or not, in any case), not inside a string literal
/// or a comment. Text that does not lex counts as using every column (the planner then
/// takes the safe way: a rebuild).
fn fill_dependencies(name: &QualifiedName, table: &mut Table) {
    let columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    let uses = |texts: &[&str]| -> Vec<Dependency> {
        let mut used: Vec<Dependency> = Vec::new();
        for text in texts {
            let names: Option<Vec<String>> = normalize::lex(text).map(|lexemes| {
                lexemes
                    .iter()
                    .filter(|l| l.kind != LexemeKind::Literal && l.is_name())
                    .map(|l| l.name())
                    .collect()
            });
            for column in &columns {
                // (An index key on a plain column is the column's name as is.)
                let named = text.eq_ignore_ascii_case(column)
                    || names
                        .as_ref()
                        .is_none_or(|names| names.iter().any(|n| n.eq_ignore_ascii_case(column)));
                if named {
                    used.push(Dependency {
                        kind: DependencyKind::Relation,
                        name: name.clone(),
                        column: Some(column.clone()),
                    });
                }
            }
        }
        used.sort();
        used.dedup();
        used
    };
    let mut depends_on = TableDependencies::default();
    for column in &table.columns {
        if let Some(generated) = &column.generated {
            let used = uses(&[&generated.expression]);
            if !used.is_empty() {
                depends_on.columns.insert(column.name.clone(), used);
            }
        }
    }
    for (constraint_name, constraint) in &table.constraints {
        let used = uses(&[&constraint.definition]);
        if !used.is_empty() {
            depends_on.constraints.insert(constraint_name.clone(), used);
        }
    }
    for (index_name, index) in &table.indexes {
        let mut texts: Vec<&str> = index.keys.iter().map(|k| k.expression.as_str()).collect();
        texts.extend(index.predicate.as_deref());
        let used = uses(&texts);
        if !used.is_empty() {
            depends_on.indexes.insert(index_name.clone(), used);
        }
    }
    for (trigger_name, trigger) in &table.triggers {
        let used = uses(&[&trigger.definition]);
        if !used.is_empty() {
            depends_on.triggers.insert(trigger_name.clone(), used);
        }
    }
    table.depends_on = depends_on;
}

/// A row of `sqlite_schema` (with what `pragma_table_list` says of tables).
#[derive(Debug)]
struct ObjectRow {
    /// `table`, `index`, `view` or `trigger`.
    kind: String,
    name: String,
    /// The table an index or trigger is on (for a trigger, possibly a view).
    table: String,
    sql: Option<String>,
    /// `pragma_table_list`'s type for tables: `table`, `virtual` or `shadow`.
    table_type: Option<String>,
    without_rowid: bool,
    strict: bool,
}

/// A row of `pragma_table_xinfo`.
#[derive(Debug)]
struct ColumnRow {
    name: String,
    declared_type: String,
    not_null: bool,
    default: Option<String>,
    /// Position in the primary key, from 1; 0 when not part of it.
    primary_key_position: i64,
    /// 0: an ordinary column; 2: a virtual generated column; 3: a stored one.
    hidden: i64,
}

/// A key column of an index (a row of `pragma_index_xinfo`), with its index's row of
/// `pragma_index_list`.
#[derive(Debug)]
struct IndexKeyRow {
    index: String,
    unique: bool,
    /// `c` (CREATE INDEX), `u` (UNIQUE constraint) or `pk`.
    origin: String,
    /// The column's number; -1 for the rowid, -2 for an expression.
    column_id: i64,
    column: Option<String>,
    descending: bool,
    collation: Option<String>,
}

/// A row of `pragma_foreign_key_list`: one column pair of a foreign key.
#[derive(Debug)]
struct ForeignKeyRow {
    id: i64,
    parent: String,
    from: String,
    /// `None` when the key refers to the parent's primary key without naming its columns.
    to: Option<String>,
    on_update: String,
    on_delete: String,
}

/// What the four queries return, by table name (as `sqlite_schema` spells it).
struct Catalog {
    objects: Vec<ObjectRow>,
    columns: HashMap<String, Vec<ColumnRow>>,
    index_keys: HashMap<String, Vec<IndexKeyRow>>,
    foreign_keys: HashMap<String, Vec<ForeignKeyRow>>,
}

fn read_error(err: &sqlx::Error) -> Error {
    database_error("cannot read the SQLite schema", err)
}

impl ObjectRow {
    fn decode(row: &SqliteRow) -> Result<ObjectRow, sqlx::Error> {
        Ok(ObjectRow {
            kind: row.try_get(0)?,
            name: row.try_get(1)?,
            table: row.try_get(2)?,
            sql: row.try_get(3)?,
            table_type: row.try_get(4)?,
            without_rowid: row.try_get::<Option<i64>, _>(5)?.unwrap_or(0) != 0,
            strict: row.try_get::<Option<i64>, _>(6)?.unwrap_or(0) != 0,
        })
    }
}

impl ColumnRow {
    /// From columns 1.. (column 0 is the table).
    fn decode(row: &SqliteRow) -> Result<ColumnRow, sqlx::Error> {
        Ok(ColumnRow {
            name: row.try_get(1)?,
            declared_type: row.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
            not_null: row.try_get::<i64, _>(3)? != 0,
            default: row.try_get(4)?,
            primary_key_position: row.try_get(5)?,
            hidden: row.try_get(6)?,
        })
    }
}

impl IndexKeyRow {
    /// From columns 1.. (column 0 is the table).
    fn decode(row: &SqliteRow) -> Result<IndexKeyRow, sqlx::Error> {
        Ok(IndexKeyRow {
            index: row.try_get(1)?,
            unique: row.try_get::<i64, _>(2)? != 0,
            origin: row.try_get(3)?,
            column_id: row.try_get(4)?,
            column: row.try_get(5)?,
            descending: row.try_get::<i64, _>(6)? != 0,
            collation: row.try_get(7)?,
        })
    }
}

impl ForeignKeyRow {
    /// From columns 1.. (column 0 is the table).
    fn decode(row: &SqliteRow) -> Result<ForeignKeyRow, sqlx::Error> {
        Ok(ForeignKeyRow {
            id: row.try_get(1)?,
            parent: row.try_get(2)?,
            from: row.try_get(3)?,
            to: row.try_get(4)?,
            on_update: row.try_get(5)?,
            on_delete: row.try_get(6)?,
        })
    }
}

/// Runs `query` (the [`USER_TABLES`] prefix is added) and decodes its rows, grouped by the
/// table named in their first column.
async fn read_by_table<T>(
    conn: &mut SqliteConnection,
    query: &str,
    decode: fn(&SqliteRow) -> Result<T, sqlx::Error>,
) -> Result<HashMap<String, Vec<T>>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{USER_TABLES} {query}")))
        .fetch_all(conn)
        .await
        .map_err(|err| read_error(&err))?;
    let mut by_table: HashMap<String, Vec<T>> = HashMap::new();
    for row in &rows {
        let table: String = row.try_get(0).map_err(|err| read_error(&err))?;
        let decoded = decode(row).map_err(|err| read_error(&err))?;
        by_table.entry(table).or_default().push(decoded);
    }
    Ok(by_table)
}

impl Catalog {
    async fn read(conn: &mut SqliteConnection) -> Result<Catalog> {
        let objects = sqlx::query(
            "SELECT m.type, m.name, m.tbl_name, m.sql, t.type, t.wr, t.strict \
             FROM sqlite_schema m \
             LEFT JOIN pragma_table_list t \
                    ON m.type = 'table' AND t.schema = 'main' AND t.name = m.name \
             WHERE m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(|err| read_error(&err))?
        .iter()
        .map(ObjectRow::decode)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| read_error(&err))?;

        let columns = read_by_table(
            conn,
            "SELECT t.name, c.name, c.type, c.\"notnull\", c.dflt_value, c.pk, c.hidden \
             FROM user_tables t JOIN pragma_table_xinfo(t.name, 'main') c \
             ORDER BY t.name, c.cid",
            ColumnRow::decode,
        )
        .await?;

        // Key columns only (`key = 1`): the rest is the rowid or primary key every index
        // carries. The primary key's own index (`pk`) is not needed: the columns say it all.
        let index_keys = read_by_table(
            conn,
            "SELECT t.name, l.name, l.\"unique\", l.origin, k.cid, k.name, k.\"desc\", k.coll \
             FROM user_tables t \
             JOIN pragma_index_list(t.name, 'main') l \
             JOIN pragma_index_xinfo(l.name, 'main') k \
             WHERE l.origin IN ('c', 'u') AND k.key = 1 \
             ORDER BY t.name, l.name, k.seqno",
            IndexKeyRow::decode,
        )
        .await?;

        let foreign_keys = read_by_table(
            conn,
            "SELECT t.name, f.id, f.\"table\", f.\"from\", f.\"to\", f.on_update, f.on_delete \
             FROM user_tables t JOIN pragma_foreign_key_list(t.name, 'main') f \
             ORDER BY t.name, f.id, f.seq",
            ForeignKeyRow::decode,
        )
        .await?;

        Ok(Catalog {
            objects,
            columns,
            index_keys,
            foreign_keys,
        })
    }

    fn into_schema(self, excluded: &[Excluded]) -> Schema {
        let is_excluded = |name: &str| {
            excluded.iter().any(|table| {
                (table.schema.is_empty() || table.schema.eq_ignore_ascii_case(MAIN))
                    // SQLite compares names without regard to ASCII case.
                    && table.table.eq_ignore_ascii_case(name)
            })
        };
        let mut schema = Schema::empty(Dialect::Sqlite);

        // Every table's name by its lower-case spelling, to resolve references written in
        // another case (`REFERENCES Users`), excluded tables included.
        let table_names: HashMap<String, &str> = self
            .objects
            .iter()
            .filter(|object| object.kind == "table")
            .map(|object| (object.name.to_ascii_lowercase(), object.name.as_str()))
            .collect();

        // The parsed `CREATE TABLE` of every ordinary table that is inspected.
        let definitions: HashMap<&str, TableDefinition> = self
            .objects
            .iter()
            .filter(|object| object.table_type.as_deref() == Some("table"))
            .filter(|object| !is_excluded(&object.name))
            .map(|object| {
                let sql = object.sql.as_deref().unwrap_or_default();
                (object.name.as_str(), parse_create_table(sql))
            })
            .collect();
        let no_definition = TableDefinition::default();

        let mut tables: BTreeMap<String, Table> = BTreeMap::new();
        for object in &self.objects {
            if object.kind != "table" || is_excluded(&object.name) {
                continue;
            }
            let table = match object.table_type.as_deref() {
                Some("table") => {
                    let declared = definitions.get(object.name.as_str());
                    self.table(object, declared.unwrap_or(&no_definition), &table_names)
                }
                Some("virtual") => virtual_table(object.sql.as_deref().unwrap_or_default()),
                // Shadow tables belong to their virtual table.
                _ => continue,
            };
            tables.insert(object.name.clone(), table);
        }

        for object in &self.objects {
            if object.kind != "index" || is_excluded(&object.table) {
                continue;
            }
            let Some(table) = tables.get_mut(&object.table) else {
                continue;
            };
            let declared = definitions
                .get(object.table.as_str())
                .unwrap_or(&no_definition);
            let Some(index) = self.index(object, declared) else {
                continue;
            };
            table.indexes.insert(object.name.clone(), index);
        }

        let mut views: BTreeMap<String, View> = BTreeMap::new();
        for object in &self.objects {
            if object.kind == "view" {
                views.insert(
                    object.name.clone(),
                    View {
                        materialized: false,
                        definition: normalize::normalize(object.sql.as_deref().unwrap_or_default()),
                        indexes: BTreeMap::new(),
                        triggers: BTreeMap::new(),
                        // Options are PostgreSQL's: SQLite's views have none.
                        options: Vec::new(),
                        depends_on: Vec::new(),
                        comment: None,
                    },
                );
            }
        }

        for object in &self.objects {
            if object.kind != "trigger" || is_excluded(&object.table) {
                continue;
            }
            let trigger = Trigger {
                definition: normalize::normalize(object.sql.as_deref().unwrap_or_default()),
                enabled: None,
                comment: None,
            };
            // The trigger's table is spelled as the trigger's statement wrote it.
            if let Some(table) = find_ignoring_case(&mut tables, &object.table) {
                table.triggers.insert(object.name.clone(), trigger);
            } else if let Some(view) = find_ignoring_case(&mut views, &object.table) {
                view.triggers.insert(object.name.clone(), trigger);
            }
        }

        schema.tables = tables
            .into_iter()
            .map(|(name, table)| (QualifiedName::new(MAIN, &name), table))
            .collect();
        schema.views = views
            .into_iter()
            .map(|(name, view)| (QualifiedName::new(MAIN, &name), view))
            .collect();
        schema
    }

    /// An explicit index (`CREATE INDEX`): keys from the pragma, expressions and predicate from
    /// its statement. `None` for the constraints' own indexes.
    fn index(&self, object: &ObjectRow, declared: &TableDefinition) -> Option<Index> {
        let keys: Vec<&IndexKeyRow> = self
            .index_keys
            .get(&object.table)?
            .iter()
            .filter(|key| key.index == object.name && key.origin == "c")
            .collect();
        let unique = keys.first()?.unique;
        let definition = parse_create_index(object.sql.as_deref().unwrap_or_default());
        Some(Index {
            unique,
            method: "btree".to_string(),
            keys: keys
                .iter()
                .enumerate()
                .map(|(position, key)| index_key(key, definition.keys.get(position), declared))
                .collect(),
            include: Vec::new(),
            predicate: definition.predicate,
            nulls_not_distinct: false,
            comment: None,
        })
    }

    /// An ordinary table: columns and constraints from the pragmas, what they lack from its
    /// parsed `CREATE TABLE`.
    fn table(
        &self,
        object: &ObjectRow,
        declared: &TableDefinition,
        table_names: &HashMap<String, &str>,
    ) -> Table {
        let mut table = Table::new();
        let rows = self
            .columns
            .get(&object.name)
            .map_or(&[][..], Vec::as_slice);
        for row in rows {
            let declared_column = declared.column(&row.name);
            let generated = match row.hidden {
                2 => Some("VIRTUAL"),
                3 => Some("STORED"),
                _ => None,
            }
            .map(|storage| Generated {
                // Always found in a statement SQLite accepted; empty if the parse fell short.
                expression: declared_column
                    .and_then(|column| column.generated.clone())
                    .unwrap_or_default(),
                storage: storage.to_string(),
            });
            table.columns.push(Column {
                name: row.name.clone(),
                data_type: normalize::data_type(&row.declared_type),
                nullable: !row.not_null,
                // `DEFAULT NULL` is what a column without a default has.
                default: row
                    .default
                    .as_deref()
                    .map(normalize::expression)
                    .filter(|default| !default.eq_ignore_ascii_case("NULL")),
                identity: None,
                generated,
                collation: declared_column
                    .and_then(|column| column.collation.clone())
                    .filter(|collation| collation != "BINARY"),
                also_local: false,
                comment: None,
            });
        }
        if object.strict {
            table.options.push("STRICT".to_string());
        }
        if object.without_rowid {
            table.options.push("WITHOUT ROWID".to_string());
        }

        let mut constraints = Vec::new();
        constraints.extend(primary_key(rows, declared));
        constraints.extend(self.unique_constraints(object, declared));
        constraints.extend(declared.checks.iter().map(|check| {
            let definition = format!("CHECK ({})", check.expression);
            (
                check
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("check ({})", check.expression)),
                Constraint {
                    kind: ConstraintKind::Check,
                    definition,
                    columns: Vec::new(),
                    references: None,
                    comment: None,
                },
            )
        }));
        constraints.extend(self.foreign_key_constraints(object, declared, table_names));
        table.constraints = name_constraints(constraints);
        table
    }

    /// UNIQUE constraints, from their `sqlite_autoindex_*` indexes.
    fn unique_constraints(
        &self,
        object: &ObjectRow,
        declared: &TableDefinition,
    ) -> Vec<(String, Constraint)> {
        let Some(keys) = self.index_keys.get(&object.name) else {
            return Vec::new();
        };
        let mut by_index: BTreeMap<&str, Vec<&IndexKeyRow>> = BTreeMap::new();
        for key in keys.iter().filter(|key| key.origin == "u") {
            by_index.entry(&key.index).or_default().push(key);
        }
        by_index
            .into_values()
            .map(|keys| {
                let columns: Vec<String> = keys
                    .iter()
                    .map(|key| key.column.clone().unwrap_or_default())
                    .collect();
                let parts: Vec<String> = keys
                    .iter()
                    .map(|key| {
                        let key = index_key(key, None, declared);
                        key_text(&key)
                    })
                    .collect();
                let lower_case: Vec<String> =
                    columns.iter().map(|c| c.to_ascii_lowercase()).collect();
                // SQLite keeps one index for identical UNIQUE clauses: a named one names it.
                let clauses = declared
                    .uniques
                    .iter()
                    .filter(|unique| unique.columns == lower_case);
                let clause = clauses
                    .clone()
                    .find(|unique| unique.name.is_some())
                    .or_else(|| clauses.clone().next());
                let mut definition = format!("UNIQUE ({})", parts.join(", "));
                if let Some(conflict) = clause.and_then(|unique| unique.conflict.as_deref()) {
                    definition.push_str(&format!(" ON CONFLICT {conflict}"));
                }
                let name = clause
                    .and_then(|unique| unique.name.clone())
                    .unwrap_or_else(|| format!("unique ({})", parts.join(", ")));
                (
                    name,
                    Constraint {
                        kind: ConstraintKind::Unique,
                        definition,
                        columns,
                        references: None,
                        comment: None,
                    },
                )
            })
            .collect()
    }

    fn foreign_key_constraints(
        &self,
        object: &ObjectRow,
        declared: &TableDefinition,
        table_names: &HashMap<String, &str>,
    ) -> Vec<(String, Constraint)> {
        let Some(rows) = self.foreign_keys.get(&object.name) else {
            return Vec::new();
        };
        let mut by_id: BTreeMap<i64, Vec<&ForeignKeyRow>> = BTreeMap::new();
        for row in rows {
            by_id.entry(row.id).or_default().push(row);
        }
        let mut clauses_used = vec![false; declared.foreign_keys.len()];
        let mut constraints = Vec::new();
        for pairs in by_id.into_values() {
            let Some(first) = pairs.first() else {
                continue;
            };
            let parent = table_names
                .get(&first.parent.to_ascii_lowercase())
                .map_or(first.parent.as_str(), |name| name);
            let parent_columns = self.columns.get(parent).map_or(&[][..], Vec::as_slice);
            let columns: Vec<String> = pairs.iter().map(|pair| pair.from.clone()).collect();
            let referred: Vec<String> = if pairs.iter().all(|pair| pair.to.is_some()) {
                pairs
                    .iter()
                    .map(|pair| {
                        let to = pair.to.as_deref().unwrap_or_default();
                        parent_columns
                            .iter()
                            .find(|column| column.name.eq_ignore_ascii_case(to))
                            .map_or(to, |column| column.name.as_str())
                            .to_string()
                    })
                    .collect()
            } else {
                // `REFERENCES parent` alone: the parent's primary key.
                let mut key: Vec<&ColumnRow> = parent_columns
                    .iter()
                    .filter(|column| column.primary_key_position > 0)
                    .collect();
                key.sort_by_key(|column| column.primary_key_position);
                key.into_iter().map(|column| column.name.clone()).collect()
            };

            let lower_case: Vec<String> = columns.iter().map(|c| c.to_ascii_lowercase()).collect();
            let clause = declared
                .foreign_keys
                .iter()
                .enumerate()
                .find(|(at, clause)| {
                    !clauses_used[*at]
                        && clause.columns == lower_case
                        && clause.parent.eq_ignore_ascii_case(&first.parent)
                })
                .map(|(at, clause)| {
                    clauses_used[at] = true;
                    clause
                });

            let column_list = identifier_list(&columns);
            let mut reference = normalize::identifier(parent);
            if !referred.is_empty() {
                reference.push_str(&format!("({})", identifier_list(&referred)));
            }
            let mut definition = format!("FOREIGN KEY ({column_list}) REFERENCES {reference}");
            // PostgreSQL's order: ON UPDATE, then ON DELETE.
            for (event, action) in [("UPDATE", &first.on_update), ("DELETE", &first.on_delete)] {
                if !action.eq_ignore_ascii_case("NO ACTION") {
                    definition.push_str(&format!(" ON {event} {}", action.to_ascii_uppercase()));
                }
            }
            if clause.is_some_and(|clause| clause.deferred) {
                definition.push_str(" DEFERRABLE INITIALLY DEFERRED");
            }
            let name = clause
                .and_then(|clause| clause.name.clone())
                .unwrap_or_else(|| format!("foreign key ({column_list}) references {reference}"));
            constraints.push((
                name,
                Constraint {
                    kind: ConstraintKind::ForeignKey,
                    definition,
                    columns,
                    references: Some(References {
                        table: QualifiedName::new("main", parent),
                        columns: referred,
                    }),
                    comment: None,
                },
            ));
        }
        constraints
    }
}

/// The primary key, from the columns' positions in it.
fn primary_key(rows: &[ColumnRow], declared: &TableDefinition) -> Option<(String, Constraint)> {
    let mut key: Vec<&ColumnRow> = rows
        .iter()
        .filter(|column| column.primary_key_position > 0)
        .collect();
    if key.is_empty() {
        return None;
    }
    key.sort_by_key(|column| column.primary_key_position);
    let columns: Vec<String> = key.iter().map(|column| column.name.clone()).collect();
    let mut definition = format!("PRIMARY KEY ({})", identifier_list(&columns));
    let clause = declared.primary_key.as_ref();
    if let Some(conflict) = clause.and_then(|clause| clause.conflict.as_deref()) {
        definition.push_str(&format!(" ON CONFLICT {conflict}"));
    }
    if clause.is_some_and(|clause| clause.autoincrement) {
        definition.push_str(" AUTOINCREMENT");
    }
    let name = clause
        .and_then(|clause| clause.name.clone())
        .unwrap_or_else(|| ConstraintKind::PrimaryKey.as_str().to_string());
    Some((
        name,
        Constraint {
            kind: ConstraintKind::PrimaryKey,
            definition,
            columns,
            references: None,
            comment: None,
        },
    ))
}

/// Constraints by name; a derived name that two constraints share (two identical checks) is
/// told apart by a suffix, in the order of their definitions.
fn name_constraints(mut constraints: Vec<(String, Constraint)>) -> BTreeMap<String, Constraint> {
    constraints
        .sort_by(|(a_name, a), (b_name, b)| (a_name, &a.definition).cmp(&(b_name, &b.definition)));
    let mut named = BTreeMap::new();
    for (name, constraint) in constraints {
        let mut unique_name = name.clone();
        let mut counter = 2;
        while named.contains_key(&unique_name) {
            unique_name = format!("{name} ({counter})");
            counter += 1;
        }
        named.insert(unique_name, constraint);
    }
    named
}

/// One key of an index (or of a UNIQUE constraint's index). `expression` is the key's
/// canonical text in the `CREATE INDEX`, used for expression keys.
fn index_key(
    key: &IndexKeyRow,
    expression: Option<&String>,
    declared: &TableDefinition,
) -> IndexKey {
    let column_name = key.column.as_deref().filter(|_| key.column_id >= 0);
    let text = match (column_name, key.column_id) {
        (Some(name), _) => name.to_string(),
        (None, -1) => "rowid".to_string(),
        (None, _) => expression.cloned().unwrap_or_default(),
    };
    // A column key's collation is the column's unless the index says otherwise; an
    // expression's is BINARY unless it says otherwise.
    let default_collation = column_name
        .and_then(|name| declared.column(name))
        .and_then(|column| column.collation.clone())
        .unwrap_or_else(|| "BINARY".to_string());
    let collation = key
        .collation
        .as_deref()
        .map(str::to_ascii_uppercase)
        .filter(|collation| *collation != default_collation);
    IndexKey {
        expression: text,
        opclass: None,
        collation,
        descending: key.descending,
        nulls: None,
    }
}

/// Names as a definition lists them: `a, "first name"`.
fn identifier_list(names: &[String]) -> String {
    names
        .iter()
        .map(|name| normalize::identifier(name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A key as written in a constraint's definition: `a`, `a COLLATE NOCASE DESC`.
fn key_text(key: &IndexKey) -> String {
    let mut text = normalize::identifier(&key.expression);
    if let Some(collation) = &key.collation {
        text.push_str(&format!(" COLLATE {collation}"));
    }
    if key.descending {
        text.push_str(" DESC");
    }
    text
}

/// A virtual table: its module and arguments are its definition (`USING fts5(title, body)`),
/// kept as the table's only option; its columns are the module's business.
fn virtual_table(sql: &str) -> Table {
    let mut table = Table::new();
    if let Some(lexemes) = normalize::lex(sql)
        && let Some(at) = lexemes.iter().position(|lexeme| lexeme.is_keyword("USING"))
    {
        table.options.push(normalize::join(&lexemes[at..]));
    }
    table
}

fn find_ignoring_case<'m, T>(map: &'m mut BTreeMap<String, T>, name: &str) -> Option<&'m mut T> {
    if map.contains_key(name) {
        return map.get_mut(name);
    }
    map.iter_mut()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

// ------------------------------------------------------------------- parsing CREATE statements

/// What the pragmas do not tell about a table, from its `CREATE TABLE` statement.
#[derive(Debug, Default)]
struct TableDefinition {
    columns: Vec<ColumnDefinition>,
    primary_key: Option<PrimaryKeyClause>,
    uniques: Vec<UniqueClause>,
    checks: Vec<CheckClause>,
    foreign_keys: Vec<ForeignKeyClause>,
}

impl TableDefinition {
    fn column(&self, name: &str) -> Option<&ColumnDefinition> {
        self.columns
            .iter()
            .find(|column| column.name.eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, Default)]
struct ColumnDefinition {
    name: String,
    /// Upper-case (collation names are case-insensitive).
    collation: Option<String>,
    /// A generated column's expression, canonical.
    generated: Option<String>,
}

#[derive(Debug, Default)]
struct PrimaryKeyClause {
    name: Option<String>,
    autoincrement: bool,
    /// `ON CONFLICT` resolution other than the default ABORT.
    conflict: Option<String>,
}

#[derive(Debug)]
struct UniqueClause {
    name: Option<String>,
    /// Lower-case, to match the index's columns.
    columns: Vec<String>,
    conflict: Option<String>,
}

#[derive(Debug)]
struct CheckClause {
    name: Option<String>,
    /// Canonical.
    expression: String,
}

#[derive(Debug)]
struct ForeignKeyClause {
    name: Option<String>,
    /// Lower-case, to match the pragma's.
    columns: Vec<String>,
    parent: String,
    /// `DEFERRABLE INITIALLY DEFERRED`: SQLite defers no other spelling.
    deferred: bool,
}

/// A cursor over a statement's tokens.
struct Cursor<'l, 'a> {
    lexemes: &'l [Lexeme<'a>],
    at: usize,
}

impl<'l, 'a> Cursor<'l, 'a> {
    fn new(lexemes: &'l [Lexeme<'a>]) -> Self {
        Cursor { lexemes, at: 0 }
    }

    fn peek(&self) -> Option<&'l Lexeme<'a>> {
        self.lexemes.get(self.at)
    }

    fn peek_keyword(&self, offset: usize, keyword: &str) -> bool {
        self.lexemes
            .get(self.at + offset)
            .is_some_and(|lexeme| lexeme.is_keyword(keyword))
    }

    fn next(&mut self) -> Option<&'l Lexeme<'a>> {
        let lexeme = self.lexemes.get(self.at)?;
        self.at += 1;
        Some(lexeme)
    }

    /// Consumes `keyword` if it comes next.
    fn eat(&mut self, keyword: &str) -> bool {
        let found = self.peek_keyword(0, keyword);
        if found {
            self.at += 1;
        }
        found
    }

    /// The name that comes next, if a name does.
    fn name(&mut self) -> Option<String> {
        let lexeme = self.peek().filter(|lexeme| lexeme.is_name())?;
        self.at += 1;
        Some(lexeme.name())
    }

    /// If `(` comes next: the tokens up to its matching `)`, both consumed.
    fn group(&mut self) -> Option<&'l [Lexeme<'a>]> {
        if self.peek()?.kind != LexemeKind::OpenParen {
            return None;
        }
        let inner = group_after(self.lexemes, self.at);
        self.at += inner.len() + 2;
        Some(inner)
    }

    /// `ON CONFLICT <resolution>`, if it comes next; the resolution unless it is the default.
    fn conflict_clause(&mut self) -> Option<Option<String>> {
        if !(self.peek_keyword(0, "ON") && self.peek_keyword(1, "CONFLICT")) {
            return None;
        }
        self.at += 2;
        let resolution = self.next().map(|lexeme| lexeme.raw.to_ascii_uppercase());
        Some(resolution.filter(|resolution| resolution != "ABORT"))
    }
}

/// The tokens between the `(` at `open` and its matching `)` (to the end when unmatched).
fn group_after<'l, 'a>(lexemes: &'l [Lexeme<'a>], open: usize) -> &'l [Lexeme<'a>] {
    let mut depth = 0usize;
    for (at, lexeme) in lexemes.iter().enumerate().skip(open) {
        match lexeme.kind {
            LexemeKind::OpenParen => depth += 1,
            LexemeKind::CloseParen => {
                depth -= 1;
                if depth == 0 {
                    return &lexemes[open + 1..at];
                }
            }
            _ => {}
        }
    }
    lexemes.get(open + 1..).unwrap_or_default()
}

/// `lexemes` cut at the commas outside parentheses.
fn split_list<'l, 'a>(lexemes: &'l [Lexeme<'a>]) -> Vec<&'l [Lexeme<'a>]> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (at, lexeme) in lexemes.iter().enumerate() {
        match lexeme.kind {
            LexemeKind::OpenParen => depth += 1,
            LexemeKind::CloseParen => depth = depth.saturating_sub(1),
            LexemeKind::Comma if depth == 0 => {
                items.push(&lexemes[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    if start < lexemes.len() {
        items.push(&lexemes[start..]);
    }
    items
}

/// The first token of each item of an indexed-column list (`a COLLATE nocase DESC, b`),
/// lower-case: the column names.
fn column_names(list: &[Lexeme<'_>]) -> Vec<String> {
    split_list(list)
        .into_iter()
        .filter_map(|item| item.first())
        .map(|lexeme| lexeme.name().to_ascii_lowercase())
        .collect()
}

/// Parses what the pragmas lack out of a `CREATE TABLE` statement. A statement the tokenizer
/// cannot read gives nothing (SQLite accepted it, so that is a gap of the tokenizer's).
fn parse_create_table(sql: &str) -> TableDefinition {
    let mut table = TableDefinition::default();
    let Some(lexemes) = normalize::lex(sql) else {
        return table;
    };
    let Some(open) = lexemes
        .iter()
        .position(|lexeme| lexeme.kind == LexemeKind::OpenParen)
    else {
        return table;
    };
    for item in split_list(group_after(&lexemes, open)) {
        let Some(first) = item.first() else {
            continue;
        };
        let starts_constraint = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"]
            .iter()
            .any(|keyword| first.is_keyword(keyword));
        if starts_constraint {
            parse_table_constraints(item, &mut table);
        } else {
            parse_column(item, &mut table);
        }
    }
    table
}

/// One column definition: `name [type] [constraint...]`.
fn parse_column(item: &[Lexeme<'_>], table: &mut TableDefinition) {
    let mut cursor = Cursor::new(item);
    let Some(name) = cursor.name() else {
        return;
    };
    let mut column = ColumnDefinition {
        name: name.clone(),
        ..ColumnDefinition::default()
    };
    let mut constraint_name: Option<String> = None;
    while let Some(lexeme) = cursor.next() {
        if lexeme.is_keyword("CONSTRAINT") {
            constraint_name = cursor.name();
        } else if lexeme.is_keyword("PRIMARY") {
            cursor.eat("KEY");
            let mut clause = PrimaryKeyClause {
                name: constraint_name.take(),
                ..PrimaryKeyClause::default()
            };
            loop {
                if cursor.eat("ASC") || cursor.eat("DESC") {
                    continue;
                }
                if let Some(conflict) = cursor.conflict_clause() {
                    clause.conflict = conflict;
                    continue;
                }
                if cursor.eat("AUTOINCREMENT") {
                    clause.autoincrement = true;
                    continue;
                }
                break;
            }
            table.primary_key = Some(clause);
        } else if lexeme.is_keyword("UNIQUE") {
            let conflict = cursor.conflict_clause().flatten();
            table.uniques.push(UniqueClause {
                name: constraint_name.take(),
                columns: vec![name.to_ascii_lowercase()],
                conflict,
            });
        } else if lexeme.is_keyword("CHECK") {
            if let Some(expression) = cursor.group() {
                table.checks.push(CheckClause {
                    name: constraint_name.take(),
                    expression: normalize::expression_of(expression),
                });
            }
        } else if lexeme.is_keyword("COLLATE") {
            column.collation = cursor.name().map(|name| name.to_ascii_uppercase());
        } else if lexeme.is_keyword("REFERENCES") {
            let (parent, deferred) = parse_references(&mut cursor);
            table.foreign_keys.push(ForeignKeyClause {
                name: constraint_name.take(),
                columns: vec![name.to_ascii_lowercase()],
                parent,
                deferred,
            });
        } else if lexeme.is_keyword("AS") {
            // `[GENERATED ALWAYS] AS (expr) [STORED | VIRTUAL]`
            if let Some(expression) = cursor.group() {
                column.generated = Some(normalize::expression_of(expression));
            }
        } else if lexeme.kind == LexemeKind::OpenParen {
            // A type's size or a default's expression: nothing to read in it.
            cursor.at -= 1;
            cursor.group();
        } else if ["NOT", "NULL", "DEFAULT", "GENERATED"]
            .iter()
            .any(|keyword| lexeme.is_keyword(keyword))
        {
            // A named constraint the model has no place for (NOT NULL, DEFAULT): its name goes.
            constraint_name = None;
        }
    }
    table.columns.push(column);
}

/// Table constraints: `[CONSTRAINT name] PRIMARY KEY (...) | UNIQUE (...) | CHECK (...) |
/// FOREIGN KEY (...) REFERENCES ...`. SQLite accepts several without commas between them.
fn parse_table_constraints(item: &[Lexeme<'_>], table: &mut TableDefinition) {
    let mut cursor = Cursor::new(item);
    let mut constraint_name: Option<String> = None;
    while cursor.peek().is_some() {
        if cursor.eat("CONSTRAINT") {
            constraint_name = cursor.name();
        } else if cursor.eat("PRIMARY") {
            cursor.eat("KEY");
            cursor.group();
            let conflict = cursor.conflict_clause().flatten();
            let autoincrement = cursor.eat("AUTOINCREMENT");
            table.primary_key = Some(PrimaryKeyClause {
                name: constraint_name.take(),
                autoincrement,
                conflict,
            });
        } else if cursor.eat("UNIQUE") {
            let columns = cursor.group().map(column_names).unwrap_or_default();
            let conflict = cursor.conflict_clause().flatten();
            table.uniques.push(UniqueClause {
                name: constraint_name.take(),
                columns,
                conflict,
            });
        } else if cursor.eat("CHECK") {
            if let Some(expression) = cursor.group() {
                table.checks.push(CheckClause {
                    name: constraint_name.take(),
                    expression: normalize::expression_of(expression),
                });
            }
            cursor.conflict_clause();
        } else if cursor.eat("FOREIGN") {
            cursor.eat("KEY");
            let columns = cursor.group().map(column_names).unwrap_or_default();
            if cursor.eat("REFERENCES") {
                let (parent, deferred) = parse_references(&mut cursor);
                table.foreign_keys.push(ForeignKeyClause {
                    name: constraint_name.take(),
                    columns,
                    parent,
                    deferred,
                });
            }
        } else {
            // Not SQLite's grammar: step over it.
            cursor.next();
        }
    }
}

/// A foreign key clause after `REFERENCES`: the parent table and whether the key is deferred.
fn parse_references(cursor: &mut Cursor<'_, '_>) -> (String, bool) {
    let parent = cursor.name().unwrap_or_default();
    cursor.group();
    let mut deferred = false;
    loop {
        if cursor.peek_keyword(0, "ON") && !cursor.peek_keyword(1, "CONFLICT") {
            // ON DELETE|UPDATE SET NULL|SET DEFAULT|CASCADE|RESTRICT|NO ACTION
            cursor.at += 2;
            if !cursor.eat("SET") {
                cursor.eat("NO");
            }
            cursor.next();
        } else if cursor.eat("MATCH") {
            cursor.next();
        } else if cursor.peek_keyword(0, "NOT") && cursor.peek_keyword(1, "DEFERRABLE") {
            cursor.at += 2;
            deferred = false;
            if cursor.eat("INITIALLY") {
                cursor.next();
            }
        } else if cursor.eat("DEFERRABLE") {
            deferred = false;
            if cursor.eat("INITIALLY") {
                deferred = cursor.eat("DEFERRED");
                cursor.eat("IMMEDIATE");
            }
        } else {
            break;
        }
    }
    (parent, deferred)
}

/// What the pragmas do not tell about an index, from its `CREATE INDEX` statement.
#[derive(Debug, Default)]
struct IndexDefinition {
    /// Each key's canonical text, in order (used for expression keys).
    keys: Vec<String>,
    /// The `WHERE` predicate of a partial index, canonical.
    predicate: Option<String>,
}

fn parse_create_index(sql: &str) -> IndexDefinition {
    let mut index = IndexDefinition::default();
    let Some(lexemes) = normalize::lex(sql) else {
        return index;
    };
    // `CREATE [UNIQUE] INDEX name ON table (keys) [WHERE predicate]`
    let Some(on) = lexemes.iter().position(|lexeme| lexeme.is_keyword("ON")) else {
        return index;
    };
    let Some(open) = lexemes
        .iter()
        .skip(on)
        .position(|lexeme| lexeme.kind == LexemeKind::OpenParen)
        .map(|offset| on + offset)
    else {
        return index;
    };
    let keys = group_after(&lexemes, open);
    for mut key in split_list(keys) {
        if key
            .last()
            .is_some_and(|lexeme| lexeme.is_keyword("ASC") || lexeme.is_keyword("DESC"))
        {
            key = &key[..key.len() - 1];
        }
        if key.len() >= 2 && key[key.len() - 2].is_keyword("COLLATE") {
            key = &key[..key.len() - 2];
        }
        index.keys.push(normalize::expression_of(key));
    }
    let after = open + keys.len() + 2;
    if lexemes
        .get(after)
        .is_some_and(|lexeme| lexeme.is_keyword("WHERE"))
    {
        index.predicate = lexemes
            .get(after + 1..)
            .map(normalize::expression_of)
            .filter(|predicate| !predicate.is_empty());
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_pragmas_lack_from_create_table() {
        let table = parse_create_table(
            "CREATE TABLE t (id integer constraint pk_t primary key on conflict replace autoincrement, \
             email text collate NoCase constraint uq_email unique, \
             price int check (Price>0), \
             total as (price * 2) stored, \
             owner references users on delete set null deferrable initially deferred, \
             a, b, \
             constraint both check (a < b) unique (a, b) on conflict ignore, \
             foreign key (a, b) references pairs(x, y) not deferrable)",
        );
        assert_eq!(
            table
                .columns
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["id", "email", "price", "total", "owner", "a", "b"]
        );
        let email = table.column("EMAIL").expect("email");
        assert_eq!(email.collation.as_deref(), Some("NOCASE"));
        assert_eq!(
            table.column("total").and_then(|c| c.generated.as_deref()),
            Some("price * 2")
        );
        let key = table.primary_key.as_ref().expect("primary key");
        assert_eq!(key.name.as_deref(), Some("pk_t"));
        assert!(key.autoincrement);
        assert_eq!(key.conflict.as_deref(), Some("REPLACE"));
        let uniques: Vec<_> = table
            .uniques
            .iter()
            .map(|u| (u.name.as_deref(), u.columns.clone(), u.conflict.as_deref()))
            .collect();
        assert_eq!(
            uniques,
            [
                (Some("uq_email"), vec!["email".to_string()], None),
                (None, vec!["a".to_string(), "b".to_string()], Some("IGNORE")),
            ]
        );
        let checks: Vec<_> = table
            .checks
            .iter()
            .map(|c| (c.name.as_deref(), c.expression.as_str()))
            .collect();
        assert_eq!(checks, [(None, "price > 0"), (Some("both"), "a < b")]);
        let keys: Vec<_> = table
            .foreign_keys
            .iter()
            .map(|k| (k.columns.clone(), k.parent.as_str(), k.deferred))
            .collect();
        assert_eq!(
            keys,
            [
                (vec!["owner".to_string()], "users", true),
                (vec!["a".to_string(), "b".to_string()], "pairs", false),
            ]
        );
    }

    #[test]
    fn identical_derived_names_are_told_apart() {
        let check = |definition: &str| Constraint {
            kind: ConstraintKind::Check,
            definition: definition.to_string(),
            columns: Vec::new(),
            references: None,
            comment: None,
        };
        let named = name_constraints(vec![
            ("check (a > 0)".to_string(), check("CHECK (a > 0)")),
            ("positive".to_string(), check("CHECK (a > 0)")),
            ("check (a > 0)".to_string(), check("CHECK (a > 0)")),
        ]);
        assert_eq!(
            named.keys().collect::<Vec<_>>(),
            ["check (a > 0)", "check (a > 0) (2)", "positive"]
        );
    }

    #[test]
    fn parses_keys_and_predicate_from_create_index() {
        let index = parse_create_index(
            "CREATE INDEX i ON t (Lower(name) COLLATE nocase DESC, b ASC) WHERE deleted_at IS NULL",
        );
        assert_eq!(index.keys, ["lower(name)", "b"]);
        assert_eq!(index.predicate.as_deref(), Some("deleted_at IS NULL"));
        assert_eq!(parse_create_index("CREATE INDEX i ON t(a)").predicate, None);
    }
}
