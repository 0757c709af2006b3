//! What the parts of each table use, from `pg_depend`: column defaults and generation
//! expressions (`pg_attrdef`), constraints, indexes, triggers and policies, each to the
//! relations (and single columns, `refobjsubid`), routines and types of user schemas.
//!
//! One query for every table. It also reads what routines use (`Routine::depends_on`): the
//! user types of their arguments and result, an aggregate's support functions, and what a
//! body uses, which the server records for SQL functions with a `BEGIN ATOMIC` body only (a
//! PL/pgSQL body, or SQL given as a string, is checked when it runs and records nothing): a
//! part that calls such a routine uses what the routine's body uses too, so the planner
//! makes it again when one of those changes.

use std::collections::{HashMap, HashSet};

use sqlx::PgConnection;
use sqlx::postgres::types::Oid;

use super::{Relations, USER_NAMESPACE, fetch, get};
use crate::error::Result;
use crate::schema::model::{Dependency, DependencyKind, QualifiedName, Schema};

/// A part of a table (or a routine) and what it uses directly; `routine` is the used
/// routine's OID, to follow into its body.
type Uses = Vec<(Dependency, Option<Oid>)>;

/// Fills every table's and routine's `depends_on`, sorted; `routines` are the routines'
/// signatures by OID.
pub(super) async fn read_dependencies(
    conn: &mut PgConnection,
    relations: &Relations,
    routines: &HashMap<Oid, String>,
    schema: &mut Schema,
) -> Result<()> {
    let user_namespace = |alias: &str| USER_NAMESPACE.replace("n.", &format!("{alias}."));
    // Dependents are user objects (OIDs from FirstNormalObjectId, 16384, on): the bound lets
    // the scan skip the built-in catalog's rows first. `n` rows are what an expression uses;
    // `a` rows the columns a part is on (an index's keys, a check's columns).
    let sql = format!(
        "WITH d AS ( \
             SELECT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid, d.refobjsubid \
             FROM pg_depend d \
             WHERE d.objid >= 16384 AND d.deptype IN ('n', 'a') \
               AND d.classid IN ('pg_attrdef'::regclass, 'pg_constraint'::regclass, \
                   'pg_class'::regclass, 'pg_trigger'::regclass, 'pg_policy'::regclass, \
                   'pg_proc'::regclass) \
               AND d.refclassid IN ('pg_class'::regclass, 'pg_proc'::regclass, \
                   'pg_type'::regclass)), \
         parts AS ( \
             SELECT d.*, 'column' AS part, a.adrelid AS owner, att.attname::text AS part_name, \
                    a.adnum AS attnum \
             FROM d JOIN pg_attrdef a ON d.classid = 'pg_attrdef'::regclass AND a.oid = d.objid \
             JOIN pg_attribute att ON att.attrelid = a.adrelid AND att.attnum = a.adnum \
             UNION ALL \
             SELECT d.*, 'constraint', c.conrelid, c.conname::text, 0 \
             FROM d JOIN pg_constraint c \
                 ON d.classid = 'pg_constraint'::regclass AND c.oid = d.objid \
             WHERE c.conrelid <> 0 \
             UNION ALL \
             SELECT d.*, 'index', i.indrelid, ic.relname::text, 0 \
             FROM d JOIN pg_index i ON d.classid = 'pg_class'::regclass AND d.objsubid = 0 \
                 AND i.indexrelid = d.objid \
             JOIN pg_class ic ON ic.oid = i.indexrelid \
             UNION ALL \
             SELECT d.*, 'trigger', t.tgrelid, t.tgname::text, 0 \
             FROM d JOIN pg_trigger t ON d.classid = 'pg_trigger'::regclass AND t.oid = d.objid \
             WHERE NOT t.tgisinternal \
             UNION ALL \
             SELECT d.*, 'policy', p.polrelid, p.polname::text, 0 \
             FROM d JOIN pg_policy p ON d.classid = 'pg_policy'::regclass AND p.oid = d.objid \
             UNION ALL \
             SELECT d.*, 'routine', d.objid, NULL, 0 \
             FROM d WHERE d.classid = 'pg_proc'::regclass), \
         uses AS ( \
             SELECT * FROM parts o \
             WHERE o.part = 'routine' OR NOT (o.refclassid = 'pg_class'::regclass \
                 AND o.refobjid = o.owner \
                 AND (o.refobjsubid = 0 OR o.refobjsubid = o.attnum))) \
         SELECT u.part, u.owner, u.part_name, 'relation' AS kind, rn.nspname::text AS schema, \
                rc.relname::text AS name, ra.attname::text AS column_name, NULL::oid AS routine \
         FROM uses u JOIN pg_class rc ON u.refclassid = 'pg_class'::regclass \
             AND rc.oid = u.refobjid AND rc.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') \
         JOIN pg_namespace rn ON rn.oid = rc.relnamespace \
         LEFT JOIN pg_attribute ra ON u.refobjsubid > 0 AND ra.attrelid = rc.oid \
             AND ra.attnum = u.refobjsubid \
         WHERE {relation_namespace} \
         UNION ALL \
         SELECT u.part, u.owner, u.part_name, 'routine', pn.nspname::text, p.proname::text, \
                NULL, p.oid \
         FROM uses u JOIN pg_proc p ON u.refclassid = 'pg_proc'::regclass AND p.oid = u.refobjid \
         JOIN pg_namespace pn ON pn.oid = p.pronamespace WHERE {routine_namespace} \
         UNION ALL \
         SELECT u.part, u.owner, u.part_name, 'type', tn.nspname::text, t.typname::text, \
                NULL, NULL \
         FROM uses u JOIN pg_type a ON u.refclassid = 'pg_type'::regclass AND a.oid = u.refobjid \
         JOIN pg_type t ON t.oid = CASE WHEN a.typcategory = 'A' AND a.typelem <> 0 \
                                        THEN a.typelem ELSE a.oid END \
         JOIN pg_namespace tn ON tn.oid = t.typnamespace WHERE {type_namespace}",
        relation_namespace = user_namespace("rn"),
        routine_namespace = user_namespace("pn"),
        type_namespace = user_namespace("tn"),
    );
    let mut bodies: HashMap<Oid, Uses> = HashMap::new();
    let mut parts: HashMap<(Oid, String, String), Uses> = HashMap::new();
    for row in fetch(conn, "tables' dependencies", sql).await? {
        let kind = match get::<String>(&row, "kind")?.as_str() {
            "relation" => DependencyKind::Relation,
            "routine" => DependencyKind::Routine,
            _ => DependencyKind::Type,
        };
        let dependency = Dependency {
            kind,
            name: QualifiedName::new(
                &get::<String>(&row, "schema")?,
                &get::<String>(&row, "name")?,
            ),
            column: get(&row, "column_name")?,
        };
        let used = (dependency, get::<Option<Oid>>(&row, "routine")?);
        let part: String = get(&row, "part")?;
        let owner: Oid = get(&row, "owner")?;
        if part == "routine" {
            bodies.entry(owner).or_default().push(used);
        } else {
            let part_name: Option<String> = get(&row, "part_name")?;
            parts
                .entry((owner, part, part_name.unwrap_or_default()))
                .or_default()
                .push(used);
        }
    }
    for ((owner, part, part_name), uses) in parts {
        let Some(table) = relations.table(owner, schema) else {
            continue;
        };
        let mut all = through_routines(&uses, &bodies);
        all.sort();
        all.dedup();
        let map = match part.as_str() {
            "column" => &mut table.depends_on.columns,
            "constraint" => &mut table.depends_on.constraints,
            "index" => &mut table.depends_on.indexes,
            "trigger" => &mut table.depends_on.triggers,
            _ => &mut table.depends_on.policies,
        };
        map.insert(part_name, all);
    }
    // A routine's own list holds its direct uses: the planner follows calls itself.
    for (oid, uses) in bodies {
        let Some(routine) = routines
            .get(&oid)
            .and_then(|signature| schema.routines.get_mut(signature))
        else {
            continue;
        };
        routine.depends_on = uses.into_iter().map(|(used, _)| used).collect();
        routine.depends_on.sort();
        routine.depends_on.dedup();
    }
    Ok(())
}

/// `uses` and, for each routine in it, what the routine's recorded body uses, transitively
/// (each routine once: recursive functions end).
fn through_routines(uses: &Uses, routines: &HashMap<Oid, Uses>) -> Vec<Dependency> {
    let mut all = Vec::new();
    let mut seen: HashSet<Oid> = HashSet::new();
    let mut pending: Vec<&(Dependency, Option<Oid>)> = uses.iter().collect();
    while let Some((dependency, routine)) = pending.pop() {
        all.push(dependency.clone());
        if let Some(oid) = routine
            && seen.insert(*oid)
            && let Some(body) = routines.get(oid)
        {
            pending.extend(body.iter());
        }
    }
    all
}
