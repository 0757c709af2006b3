//! Incremental reads for a database read again and again between small changes (`check`'s
//! walk reads the schema after every up and every down): only the relations a change touched
//! are read again, the rest of the schema is the previous read's.
//!
//! What changed is found from the catalogs' own row versions. Every catalog row carries the
//! transaction that wrote it (`xmin`), and transaction ids only grow on a scratch server, so
//! for each relation of the schema the number of catalog rows that describe it (its
//! `pg_class` row, columns, defaults, constraints, indexes, triggers, policies, rewrite rule,
//! inheritance, partitioning, sequence, comments) and the newest `xmin` among them change
//! whenever anything about it does: an insert or update brings a newer `xmin`, a delete
//! lowers the count (and a rolled-back probe brings back older rows, which differ as much).
//! Relations whose signature differs (or that are new or gone) are read again; so are the
//! relations with a part that depends (`pg_depend`) on one of them whose name or columns'
//! names changed, since a part's deparsed text names what it uses (a foreign key names its
//! target and its columns, a view its tables and columns; see [`read_changed`]). Routines
//! have a signature each: changed ones are read again, and the relations naming a renamed
//! one. Everything else (schemas, extensions, types, the catalog objects) has one signature
//! per catalog; when one of those differs, or a change touches what this module does not
//! follow (a composite type, a foreign table, a type or routine using a relation), the read
//! is a whole one. The same rule decides when there is nothing to go on (the first read).
//!
//! A signature that changed without a real change (a row rewritten as it was) only costs a
//! read; a change without a new signature is not possible for the rows the model is read
//! from, which is what the signatures cover. `CARGO_MIGRATE_VERIFY_INCREMENTAL_READS=1`
//! makes every incremental read also read the whole schema and fail on any difference: the
//! corpus tests run `check` so.

use std::collections::HashMap;

use sqlx::PgConnection;
use sqlx::postgres::types::Oid;

use super::{
    Batch, Frame, Relation, RelationKind, Relations, Scope, USER_NAMESPACE, fetch, fetch_bound,
    get, inconsistent, read_relation_parts, read_schema_and_relations,
};
use crate::error::Result;
use crate::schema::Excluded;
use crate::schema::model::{QualifiedName, Schema};

/// What the previous read of one connection's database found, to read the next one from.
#[derive(Default)]
pub(crate) struct ReadCache {
    last: Option<LastRead>,
    /// The part queries prepared on the connection.
    batch: Batch,
}

struct LastRead {
    schema: Schema,
    /// Every relation of the user schemas (also those the schema leaves out: the history
    /// table, extensions' tables) with its signature.
    signatures: HashMap<Oid, Signed>,
    /// Every routine of the user schemas (not an extension's) with its signature: its name
    /// and argument types as `name`.
    routines: HashMap<Oid, Signed>,
    /// The other catalogs' signatures, in one fixed order.
    others: Vec<String>,
    /// The relations that are part of the schema (what [`Relations`] held).
    members: Members,
    /// The routines' keys in `schema.routines`, by OID.
    routine_keys: HashMap<Oid, String>,
}

#[derive(Clone, PartialEq, Eq)]
struct Signed {
    kind: String,
    name: QualifiedName,
    /// Catalog rows describing the relation, and the newest `xmin` among them.
    rows: i64,
    newest: i64,
    /// Whether it has indexes, triggers or policies: a read of it leaves out the queries
    /// for parts none of the relations read has.
    parts: Parts,
}

/// Which kinds of parts relations have (or, for a read, which queries it needs).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Parts {
    pub(super) tables: bool,
    pub(super) indexes: bool,
    pub(super) triggers: bool,
    pub(super) policies: bool,
    pub(super) views: bool,
    pub(super) sequences: bool,
}

impl Parts {
    /// Every kind: a whole read.
    pub(super) const ALL: Parts = Parts {
        tables: true,
        indexes: true,
        triggers: true,
        policies: true,
        views: true,
        sequences: true,
    };

    fn or(self, other: Parts) -> Parts {
        Parts {
            tables: self.tables || other.tables,
            indexes: self.indexes || other.indexes,
            triggers: self.triggers || other.triggers,
            policies: self.policies || other.policies,
            views: self.views || other.views,
            sequences: self.sequences || other.sequences,
        }
    }
}

/// The relation kinds read again one by one; a change to any other kind (a composite type,
/// a foreign table) means a whole read.
const FOLLOWED_KINDS: [&str; 5] = ["r", "p", "v", "m", "S"];

/// Reads the schema, again only where it changed since the last read through `cache`. Runs
/// inside the read's transaction.
pub(super) async fn read(
    conn: &mut PgConnection,
    excluded: &[Excluded],
    version: u32,
    cache: &mut ReadCache,
    mut frame: Option<&mut Frame>,
) -> Result<Schema> {
    let Signatures {
        relations: signatures,
        routines,
        others,
    } = signatures(conn, frame.as_deref_mut(), &mut cache.batch).await?;
    let schema = match cache.last.take() {
        Some(last) if last.others == others => {
            let LastRead {
                schema,
                signatures: last_signatures,
                routines: last_routines,
                members,
                routine_keys,
                ..
            } = last;
            let (changed_routines, gone_routines) = changed_and_gone(&routines, &last_routines);
            // What other objects print of a routine is its name (a trigger's function, a
            // default's call): only a routine now named otherwise changes them.
            let renamed_routines: Vec<Oid> = routines
                .iter()
                .filter(|(oid, signed)| {
                    last_routines
                        .get(oid)
                        .is_some_and(|last| last.name != signed.name)
                })
                .map(|(oid, _)| *oid)
                .collect();
            let reading = Rereading {
                conn: &mut *conn,
                excluded,
                version,
                signatures: &signatures,
                last_signatures: &last_signatures,
                batch: &mut cache.batch,
                frame: frame.as_deref_mut(),
                schema,
                members,
                routine_keys,
            };
            let routines = RoutineChanges {
                changed: &changed_routines,
                gone: &gone_routines,
                renamed: &renamed_routines,
            };
            read_changed(reading, routines).await?
        }
        _ => None,
    };
    let (schema, members, routine_keys) = match schema {
        Some(read) => read,
        None => {
            tracing::debug!(target: "cargo_migrate::schema", "whole schema read");
            if let Some(frame) = frame.as_deref_mut() {
                frame.reopen(conn).await?;
            }
            let (schema, relations, routine_keys) =
                read_schema_and_relations(conn, excluded, version).await?;
            (schema, relations.0, routine_keys)
        }
    };
    if verifying() {
        if let Some(frame) = frame {
            frame.reopen(conn).await?;
        }
        let whole = super::read_schema(conn, excluded, version).await?;
        if whole != schema {
            let changes = crate::schema::diff(&whole, &schema);
            return Err(inconsistent(format!(
                "{MISMATCH}: {}",
                changes
                    .iter()
                    .map(|change| format!(
                        "{:?} {} {} {}",
                        change.kind,
                        change.object,
                        change.name,
                        change.attribute.as_deref().unwrap_or("")
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
    }
    cache.last = Some(LastRead {
        schema: schema.clone(),
        signatures,
        routines,
        others,
        members,
        routine_keys,
    });
    Ok(schema)
}

/// How the error of a read that differs from the whole read starts (see [`verifying`]): it is
/// not one a read done again would fix.
pub(super) const MISMATCH: &str = "an incremental schema read differs from the whole read";

/// `CARGO_MIGRATE_VERIFY_INCREMENTAL_READS=1`: every incremental read is checked against a
/// whole one (for tests; it makes reads dearer than without the cache).
fn verifying() -> bool {
    std::env::var_os("CARGO_MIGRATE_VERIFY_INCREMENTAL_READS").is_some_and(|value| value == "1")
}

/// The relations that are part of the schema, with their names and a table's column numbers
/// as the read that last read each of them found them.
type Members = HashMap<Oid, Relation>;

/// The schema from `last` with the changed relations read again; `None` when the change is
/// one a whole read must cover.
///
/// A relation's part that depends on a changed relation (a foreign key on its target, a view on
/// its tables, a default on its sequence, a child on its parent) prints of it only its name and
/// its columns' names: PostgreSQL refuses to change a column's type under a view or a rule,
/// rebuilds a foreign key whose columns change type (a change of the referencing table), and
/// drops or refuses to drop what uses a dropped column. So the dependents are read again only
/// when a changed relation now has another name, a column number another name, or is a view
/// (whose columns the model does not list), or when a routine was renamed (a trigger, a
/// default or a check names its function): for the usual step (a table gains a column, an
/// index, a constraint) the relations referring to it are left as they were.
async fn read_changed(
    mut reading: Rereading<'_>,
    routines: RoutineChanges<'_>,
) -> Result<Option<Read>> {
    let routines_changed = !routines.changed.is_empty() || !routines.gone.is_empty();
    let (signatures, last_signatures) = (reading.signatures, reading.last_signatures);
    let (changed, gone) = changed_and_gone(signatures, last_signatures);
    let followed = |signed: &Signed| FOLLOWED_KINDS.contains(&signed.kind.as_str());
    if changed.iter().any(|oid| !followed(&signatures[oid]))
        || gone.iter().any(|oid| !followed(&last_signatures[oid]))
    {
        tracing::debug!(target: "cargo_migrate::schema", "unfollowed kind");
        return Ok(None);
    }
    if changed.is_empty() && gone.is_empty() && !routines_changed {
        return Ok(Some(reading.finish()));
    }
    // Routines first: the batch reading the relations then ends the read's transaction in
    // its message (see [`Frame`]).
    if routines_changed {
        // Out go the routines as the last read named them, in come the changed ones.
        for oid in routines.changed.iter().chain(routines.gone) {
            if let Some(key) = reading.routine_keys.remove(oid) {
                reading.schema.routines.remove(&key);
            }
        }
        if !routines.changed.is_empty() {
            let keys =
                super::read_routines(reading.conn, Some(routines.changed), &mut reading.schema)
                    .await?;
            reading.routine_keys.extend(keys);
        }
    }
    let replaced = if changed.is_empty() && gone.is_empty() {
        Replaced::default()
    } else {
        reading.reread(&changed, &gone).await?
    };
    let renamed: Vec<Oid> = changed
        .iter()
        .filter(|oid| replaced.renamed(**oid, &reading))
        .copied()
        .collect();
    if !renamed.is_empty() || !routines.renamed.is_empty() {
        if let Some(frame) = reading.frame.as_deref_mut() {
            frame.reopen(reading.conn).await?;
        }
        let Some(dependents) = dependents(reading.conn, &renamed, routines.renamed).await? else {
            tracing::debug!(target: "cargo_migrate::schema", "non-relation dependent");
            return Ok(None);
        };
        let mut second: Vec<Oid> = dependents
            .into_iter()
            .filter(|oid| signatures.contains_key(oid) && !changed.contains(oid))
            .collect();
        second.sort_unstable_by_key(|oid| oid.0);
        second.dedup();
        if !second.is_empty() {
            reading.reread(&second, &[]).await?;
        }
    }
    Ok(Some(reading.finish()))
}

/// The objects of `now` whose signature differs from `last`'s (or that are new), and those of
/// `last` that are gone.
fn changed_and_gone(
    now: &HashMap<Oid, Signed>,
    last: &HashMap<Oid, Signed>,
) -> (Vec<Oid>, Vec<Oid>) {
    let changed = now
        .iter()
        .filter(|(oid, signed)| last.get(oid) != Some(signed))
        .map(|(oid, _)| *oid)
        .collect();
    let gone = last
        .keys()
        .filter(|oid| !now.contains_key(oid))
        .copied()
        .collect();
    (changed, gone)
}

/// What a read found: the schema, its relations and its routines' keys (see [`LastRead`]).
type Read = (Schema, Members, HashMap<Oid, String>);

/// The routines whose signature differs from the last read's, that are gone since, and that
/// are now named otherwise (`changed` holds them too).
struct RoutineChanges<'a> {
    changed: &'a [Oid],
    gone: &'a [Oid],
    renamed: &'a [Oid],
}

/// What [`read_changed`] reads again from, and into.
struct Rereading<'a> {
    conn: &'a mut PgConnection,
    excluded: &'a [Excluded],
    version: u32,
    signatures: &'a HashMap<Oid, Signed>,
    last_signatures: &'a HashMap<Oid, Signed>,
    batch: &'a mut Batch,
    /// The read's transaction, when its messages start and end it.
    frame: Option<&'a mut Frame>,
    /// The last read's schema, relations and routines' keys, becoming this read's.
    schema: Schema,
    members: Members,
    routine_keys: HashMap<Oid, String>,
}

/// The relations a [`Rereading::reread`] replaced, as the last read had them.
#[derive(Default)]
struct Replaced {
    relations: HashMap<Oid, (Relation, Option<Vec<String>>)>,
}

impl Rereading<'_> {
    fn finish(self) -> Read {
        (self.schema, self.members, self.routine_keys)
    }

    /// Reads `oids` again and puts them in place of what the last read had of them and of the
    /// `gone` relations; returns what they replaced.
    async fn reread(&mut self, oids: &[Oid], gone: &[Oid]) -> Result<Replaced> {
        let mut oids = oids.to_vec();
        oids.sort_unstable_by_key(|oid| oid.0);
        tracing::debug!(
            target: "cargo_migrate::schema",
            "schema read again for {} relations ({} gone) {:?}",
            oids.len(),
            gone.len(),
            oids.iter()
                .map(|oid| self.signatures[oid].name.to_string())
                .collect::<Vec<_>>()
        );
        // Out go the relations as the last read named them, then in come the ones read again
        // as they are now (a name may have passed from one relation to another).
        let mut replaced = Replaced {
            relations: HashMap::new(),
        };
        for oid in oids.iter().chain(gone) {
            let member = self.members.remove(oid);
            let Some(signed) = self.last_signatures.get(oid) else {
                continue;
            };
            let columns = match signed.kind.as_str() {
                "r" | "p" => self.schema.tables.remove(&signed.name).map(|table| {
                    table
                        .columns
                        .into_iter()
                        .map(|column| column.name)
                        .collect()
                }),
                "v" | "m" => {
                    self.schema.views.remove(&signed.name);
                    None
                }
                _ => {
                    self.schema.sequences.remove(&signed.name);
                    None
                }
            };
            if let Some(member) = member {
                replaced.relations.insert(*oid, (member, columns));
            }
        }
        let known: Vec<(Oid, QualifiedName, RelationKind)> = self
            .members
            .iter()
            .map(|(oid, relation)| (*oid, relation.name.clone(), relation.kind))
            .collect();
        let mut part = Schema::empty(self.schema.dialect);
        let needed = oids
            .iter()
            .filter_map(|oid| self.signatures.get(oid))
            .fold(Parts::default(), |needed, signed| needed.or(signed.parts));
        let Relations(relations) = read_relation_parts(
            self.conn,
            self.excluded,
            self.version,
            Scope {
                only: Some(&oids),
                needed,
                known,
                batch: Some(&mut *self.batch),
                frame: self.frame.as_deref_mut(),
            },
            &mut part,
        )
        .await?;
        self.schema.tables.extend(part.tables);
        self.schema.views.extend(part.views);
        self.schema.sequences.extend(part.sequences);
        for (oid, relation) in relations {
            // The relations read now come with their column numbers; the others were only
            // known by name for the read.
            if oids.binary_search_by_key(&oid.0, |oid| oid.0).is_ok() {
                self.members.insert(oid, relation);
            } else {
                self.members.entry(oid).or_insert(relation);
            }
        }
        Ok(replaced)
    }
}

impl Replaced {
    /// Whether what other relations print of `oid` (its name, its columns' names) may have
    /// changed: it has another name or kind, a column number of it has another name, or it is
    /// a view (whose columns the model does not list).
    fn renamed(&self, oid: Oid, reading: &Rereading<'_>) -> bool {
        let (Some(old), Some(new)) = (
            reading.last_signatures.get(&oid),
            reading.signatures.get(&oid),
        ) else {
            // New since the last read: what uses it was made after it, and is new too.
            return false;
        };
        if old.name != new.name || old.kind != new.kind {
            return true;
        }
        match new.kind.as_str() {
            "S" => false,
            "r" | "p" => {
                let (Some((old, Some(old_columns))), Some(new), Some(table)) = (
                    self.relations.get(&oid),
                    reading.members.get(&oid),
                    reading.schema.tables.get(&new.name),
                ) else {
                    return true;
                };
                let old_names: HashMap<i16, &String> =
                    old.attnums.iter().copied().zip(old_columns).collect();
                new.attnums
                    .iter()
                    .zip(&table.columns)
                    .any(|(attnum, column)| {
                        old_names
                            .get(attnum)
                            .is_some_and(|name| **name != column.name)
                    })
            }
            _ => true,
        }
    }
}

/// What one query finds of the catalogs' row versions.
struct Signatures {
    /// Per relation of the user schemas: its kind, name and signature.
    relations: HashMap<Oid, Signed>,
    /// Per routine of the user schemas but extensions': its name and argument types (as
    /// `name`) and the signature of its `pg_proc`, `pg_aggregate` and comment rows.
    routines: HashMap<Oid, Signed>,
    /// The other catalogs' signatures ([`other_signatures`]).
    others: Vec<String>,
}

/// The catalogs' [`Signatures`], in one query; with `frame`, the statements starting the read's
/// transaction go in the same message, and the query is prepared in `batch`.
async fn signatures(
    conn: &mut PgConnection,
    frame: Option<&mut Frame>,
    batch: &mut Batch,
) -> Result<Signatures> {
    // User objects have OIDs from 16384 (FirstNormalObjectId) on, and every catalog here has
    // an index that starts with the relation's OID: each part is a range of an index, not a
    // scan of the catalog. The parts are folded per OID before they meet the relations (a
    // hash of a few hundred OIDs): joining every part row to its relation first and grouping
    // the wide result took twice as long. Routines come as rows of kind `routine` (row
    // versions tell which one changed: a rolled-back probe brings back an older row, which
    // differs as much as a newer one); extensions' routines, which change only with their
    // extension (another signature), are left out by a hashed list, where a lookup per
    // routine took twice as long. The other catalogs' signatures come as one more row, of
    // OID 0. Columns are counted from number 1: system columns come and go with their
    // table.
    let sql = format!(
        "WITH parts(relation, x, what) AS ( \
             SELECT oid, xmin, '' FROM pg_class WHERE oid >= 16384 \
             UNION ALL SELECT attrelid, xmin, '' FROM pg_attribute \
                 WHERE attrelid >= 16384 AND attnum > 0 \
             UNION ALL SELECT adrelid, xmin, '' FROM pg_attrdef WHERE adrelid >= 16384 \
             UNION ALL SELECT indrelid, xmin, 'i' FROM pg_index WHERE indrelid >= 16384 \
             UNION ALL SELECT x.indrelid, i.xmin, '' FROM pg_index x \
                 JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid >= 16384 \
             UNION ALL SELECT conrelid, xmin, '' FROM pg_constraint WHERE conrelid >= 16384 \
             UNION ALL SELECT tgrelid, xmin, 't' FROM pg_trigger WHERE tgrelid >= 16384 \
             UNION ALL SELECT polrelid, xmin, 'p' FROM pg_policy \
             UNION ALL SELECT ev_class, xmin, '' FROM pg_rewrite WHERE ev_class >= 16384 \
             UNION ALL SELECT inhrelid, xmin, '' FROM pg_inherits \
             UNION ALL SELECT partrelid, xmin, '' FROM pg_partitioned_table \
             UNION ALL SELECT seqrelid, xmin, '' FROM pg_sequence WHERE seqrelid >= 16384 \
             UNION ALL SELECT d.objid, d.xmin, '' FROM pg_depend d \
                 JOIN pg_sequence s ON s.seqrelid = d.objid \
                 WHERE d.classid = 'pg_class'::regclass AND d.objid >= 16384 \
                   AND d.deptype IN ('a', 'i') \
             UNION ALL SELECT d.refobjid, s.xmin, '' FROM pg_depend d \
                 JOIN pg_sequence s ON s.seqrelid = d.objid \
                 WHERE d.classid = 'pg_class'::regclass AND d.objid >= 16384 \
                   AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i' \
             UNION ALL SELECT d.objid, d.xmin, '' FROM pg_depend d \
                 WHERE d.refclassid = 'pg_extension'::regclass \
                   AND d.classid = 'pg_class'::regclass AND d.deptype = 'e' \
             UNION ALL SELECT d.objoid, d.xmin, '' FROM pg_description d \
                 WHERE d.objoid >= 16384 AND d.classoid = 'pg_class'::regclass \
             {index_comments} {constraint_comments} {trigger_comments} \
             {policy_comments}), \
         routine_parts(routine, x) AS ( \
             SELECT oid, xmin FROM pg_proc WHERE oid >= 16384 \
             UNION ALL SELECT aggfnoid, xmin FROM pg_aggregate WHERE aggfnoid >= 16384 \
             UNION ALL SELECT objoid, xmin FROM pg_description \
                 WHERE objoid >= 16384 AND classoid = 'pg_proc'::regclass), \
         routines AS ( \
             SELECT routine, count(*)::int8 AS rows, max(x::text::int8) AS newest \
             FROM routine_parts \
             WHERE routine NOT IN (SELECT objid FROM pg_depend \
                                   WHERE refclassid = 'pg_extension'::regclass \
                                     AND classid = 'pg_proc'::regclass AND deptype = 'e') \
             GROUP BY routine), \
         folded AS ( \
             SELECT relation, count(*)::int8 AS rows, max(x::text::int8) AS newest, \
                    bool_or(what = 'i') AS indexes, bool_or(what = 't') AS triggers, \
                    bool_or(what = 'p') AS policies \
             FROM parts GROUP BY relation) \
         SELECT c.oid, c.relkind::text AS kind, n.nspname::text AS schema, \
                c.relname::text AS name, COALESCE(f.rows, 0) AS rows, \
                COALESCE(f.newest, 0) AS newest, f.indexes IS TRUE AS indexes, \
                f.triggers IS TRUE AS triggers, f.policies IS TRUE AS policies, \
                NULL::text[] AS others \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN folded f ON f.relation = c.oid \
         WHERE c.oid >= 16384 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'c', 'f') \
           AND {USER_NAMESPACE} \
         UNION ALL \
         SELECT p.oid, 'routine', n.nspname::text, \
                p.proname::text || '(' || p.proargtypes::text || ')', r.rows, r.newest, \
                false, false, false, NULL \
         FROM routines r JOIN pg_proc p ON p.oid = r.routine \
         JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE {USER_NAMESPACE} \
         UNION ALL \
         SELECT 0::oid, '', '', '', 0, 0, false, false, false, {others}",
        others = other_signatures(),
        index_comments = comments_of_parts("pg_class", "pg_index", "indexrelid", "indrelid"),
        constraint_comments =
            comments_of_parts("pg_constraint", "pg_constraint", "oid", "conrelid"),
        trigger_comments = comments_of_parts("pg_trigger", "pg_trigger", "oid", "tgrelid"),
        policy_comments = comments_of_parts("pg_policy", "pg_policy", "oid", "polrelid"),
    );
    let mut signatures = HashMap::new();
    let mut others = Vec::new();
    let mut routines = HashMap::new();
    let what = "catalogs' row versions";
    let rows = match frame {
        Some(frame) => {
            frame.open = true;
            batch.fetch_after(conn, frame.begin, what, sql).await?
        }
        None => fetch(conn, what, sql).await?,
    };
    for row in rows {
        let oid: Oid = get(&row, "oid")?;
        if oid == Oid(0) {
            others = get::<Option<Vec<String>>>(&row, "others")?.unwrap_or_default();
            continue;
        }
        let kind: String = get(&row, "kind")?;
        let found = if kind == "routine" {
            &mut routines
        } else {
            &mut signatures
        };
        let parts = Parts {
            tables: kind == "r" || kind == "p",
            indexes: get(&row, "indexes")?,
            triggers: get(&row, "triggers")?,
            policies: get(&row, "policies")?,
            views: kind == "v" || kind == "m",
            sequences: kind == "S",
        };
        found.insert(
            oid,
            Signed {
                kind,
                name: QualifiedName::new(
                    &get::<String>(&row, "schema")?,
                    &get::<String>(&row, "name")?,
                ),
                rows: get(&row, "rows")?,
                newest: get(&row, "newest")?,
                parts,
            },
        );
    }
    Ok(Signatures {
        relations: signatures,
        routines,
        others,
    })
}

/// A part of [`signatures`]' query: the comments on a relation's parts of one kind (rows of
/// `table`, whose `key` a comment names in `catalog`), tied to the relation (`owner`).
fn comments_of_parts(catalog: &str, table: &str, key: &str, owner: &str) -> String {
    format!(
        "UNION ALL SELECT o.{owner}, d.xmin, '' FROM pg_description d \
         JOIN {table} o ON o.{key} = d.objoid \
         WHERE d.objoid >= 16384 AND d.classoid = '{catalog}'::regclass"
    )
}

/// One signature (rows and newest `xmin`) per catalog of what is not a relation: user
/// objects only (OIDs from 16384 on) where the catalog has OIDs. Composite types' and
/// foreign tables' own rows are relations' ([`FOLLOWED_KINDS`]); array types come and go
/// with their element type.
fn other_signatures() -> String {
    let signature = |from: &str| {
        format!("(SELECT count(*) || '/' || COALESCE(max(xmin::text::int8), 0) FROM {from})")
    };
    let user = |catalog: &str| signature(&format!("{catalog} WHERE oid >= 16384"));
    let parts = [
        user("pg_namespace"),
        signature("pg_extension"),
        signature(
            "pg_type WHERE oid >= 16384 AND typrelid = 0 \
             AND NOT (typcategory = 'A' AND typelem <> 0)",
        ),
        signature("pg_enum"),
        signature("pg_range"),
        signature("pg_constraint WHERE conrelid = 0"),
        signature(
            "pg_description WHERE objoid >= 16384 AND (classoid NOT IN ( \
             'pg_class'::regclass, 'pg_constraint'::regclass, 'pg_trigger'::regclass, \
             'pg_policy'::regclass, 'pg_proc'::regclass) \
             OR (classoid = 'pg_constraint'::regclass \
                 AND objoid IN (SELECT oid FROM pg_constraint WHERE conrelid = 0)))",
        ),
        user("pg_collation"),
        user("pg_ts_dict"),
        user("pg_ts_config"),
        signature("pg_ts_config_map WHERE mapcfg >= 16384"),
        user("pg_operator"),
        user("pg_opfamily"),
        user("pg_opclass"),
        user("pg_amop"),
        user("pg_amproc"),
        user("pg_cast"),
        signature("pg_foreign_data_wrapper"),
        signature("pg_foreign_server"),
        signature("pg_event_trigger"),
        signature(
            "pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e' \
             AND classid <> 'pg_class'::regclass",
        ),
    ];
    format!("ARRAY[{}]", parts.join(", "))
}

/// The relations with a part that depends on one of `relations` (or on its row type) or on
/// one of `routines`: a foreign key on its target, a view on its tables, a default on its
/// sequence, a child on its parent, a trigger on its function. `None` when something other
/// than a relation's part (or a routine, all read again then) depends on one (a type, an
/// operator): a whole read covers it.
async fn dependents(
    conn: &mut PgConnection,
    relations: &[Oid],
    routines: &[Oid],
) -> Result<Option<Vec<Oid>>> {
    // Normal and automatic dependencies only: internal ones are a relation's own pieces (its
    // row type, its array type, an identity's sequence), which change with it. Routines
    // using routines map to OID 0: the routines are read again anyway.
    let sql = "SELECT DISTINCT CASE d.classid \
                   WHEN 'pg_class'::regclass THEN COALESCE( \
                       (SELECT x.indrelid FROM pg_index x WHERE x.indexrelid = d.objid), \
                       d.objid) \
                   WHEN 'pg_constraint'::regclass THEN \
                       (SELECT NULLIF(k.conrelid, 0) FROM pg_constraint k WHERE k.oid = d.objid) \
                   WHEN 'pg_attrdef'::regclass THEN \
                       (SELECT ad.adrelid FROM pg_attrdef ad WHERE ad.oid = d.objid) \
                   WHEN 'pg_rewrite'::regclass THEN \
                       (SELECT r.ev_class FROM pg_rewrite r WHERE r.oid = d.objid) \
                   WHEN 'pg_trigger'::regclass THEN \
                       (SELECT t.tgrelid FROM pg_trigger t WHERE t.oid = d.objid) \
                   WHEN 'pg_policy'::regclass THEN \
                       (SELECT p.polrelid FROM pg_policy p WHERE p.oid = d.objid) \
                   WHEN 'pg_type'::regclass THEN \
                       (SELECT NULLIF(t.typrelid, 0) FROM pg_type t WHERE t.oid = d.objid) \
                   WHEN 'pg_proc'::regclass THEN 0::oid \
               END AS relation \
               FROM pg_depend d \
               WHERE d.deptype IN ('n', 'a') AND ( \
                   (d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY($1::oid[])) \
                   OR (d.refclassid = 'pg_type'::regclass AND d.refobjid IN \
                       (SELECT c.reltype FROM pg_class c WHERE c.oid = ANY($1::oid[]))) \
                   OR (d.refclassid = 'pg_proc'::regclass AND d.refobjid = ANY($2::oid[])))";
    let rows = fetch_bound(
        conn,
        "relations depending on changed ones",
        sql.to_string(),
        &[relations, routines],
    )
    .await?;
    let mut relations = Vec::new();
    for row in rows {
        match get::<Option<Oid>>(&row, "relation")? {
            Some(Oid(0)) => {}
            Some(oid) => relations.push(oid),
            None => return Ok(None),
        }
    }
    Ok(Some(relations))
}
