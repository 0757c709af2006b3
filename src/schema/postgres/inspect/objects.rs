//! The catalog objects beyond tables, views, types and routines ([`Object`]s): collations,
//! text search dictionaries and configurations, operators, operator families and classes,
//! casts, foreign data wrappers, servers and foreign tables, and event triggers.
//!
//! One query for all of them (a `UNION ALL` of one branch per kind), so that a schema read
//! costs one more round trip, not eleven; and before it a probe for which kinds have any
//! object at all, so that a schema without any (most) costs the probe only. Each branch builds the object's `CREATE` statement
//! from the catalog in one spelling (options sorted, names qualified unless they are in
//! `public` or `pg_catalog`), so two databases holding the same object agree on its text
//! whatever the migration that made it wrote.
//!
//! Left out, as for the other kinds: objects an extension's script made (`pg_depend`
//! `deptype = 'e'`) or the server made along with another (`'i'`: a range type's casts to
//! its multirange), and what `initdb` made (casts in `pg_catalog`, OIDs below
//! `FirstNormalObjectId`). Shell operators (declared only as another's commutator or
//! negator, with no function) are not objects of their own.

use sqlx::PgConnection;

use super::{USER_NAMESPACE, comment_join, fetch, get, not_depending, sql_name};
use crate::error::Result;
use crate::schema::model::{Object, ObjectKind, Schema};

/// The first OID `initdb` does not use (PostgreSQL's `FirstNormalObjectId`): objects below it
/// are the system's. Every branch bounds the OID first, so that the catalogs' OID indexes
/// skip the hundreds of built-in collations, operators, classes and casts before any other
/// test runs.
const FIRST_USER_OID: u32 = 16_384;

/// Reads every object kind into `schema.objects`.
pub(super) async fn read_objects(
    conn: &mut PgConnection,
    version: u32,
    schema: &mut Schema,
) -> Result<()> {
    let present: Vec<bool> = match fetch(conn, "catalog objects", PROBE.to_string())
        .await?
        .first()
    {
        Some(row) => get(row, "present")?,
        None => Vec::new(),
    };
    let kinds: Vec<ObjectKind> = ObjectKind::ALL
        .into_iter()
        .zip(present)
        .filter_map(|(kind, present)| present.then_some(kind))
        .collect();
    if kinds.is_empty() {
        return Ok(());
    }
    for row in fetch(conn, "catalog objects", objects_query(version, &kinds)).await? {
        let kind: String = get(&row, "kind")?;
        let Some(kind) = ObjectKind::ALL
            .into_iter()
            .find(|known| known.as_str() == kind)
        else {
            continue;
        };
        let definition: Vec<String> = get::<Option<Vec<String>>>(&row, "definition")?
            .unwrap_or_default()
            .into_iter()
            .filter(|statement| !statement.is_empty())
            .collect();
        schema.objects.entry(kind).or_default().insert(
            get(&row, "name")?,
            Object {
                definition,
                comment: get(&row, "comment")?,
            },
        );
    }
    Ok(())
}

/// `OPTIONS (key 'value', ...)` of an options array (`key=value` text), sorted by key, with
/// a leading space; empty when there are none.
fn options(column: &str) -> String {
    format!(
        "COALESCE(' OPTIONS (' || (SELECT string_agg(quote_ident(o.option_name) || ' ' \
         || quote_literal(o.option_value), ', ' ORDER BY o.option_name) \
         FROM pg_options_to_table({column}) o) || ')', '')"
    )
}

/// An operator's name as SQL writes it where an operator is expected: bare when it is in
/// `pg_catalog` or `public`, `OPERATOR(schema.name)` otherwise (a bare qualified operator
/// does not parse everywhere).
fn operator_name(namespace: &str, name: &str) -> String {
    format!(
        "CASE WHEN {namespace} IN ('pg_catalog', 'public') THEN {name}::text \
         ELSE quote_ident({namespace}) || '.' || {name} END"
    )
}

/// A type's name, or `NONE` for a missing operand.
fn operand(oid: &str) -> String {
    format!("COALESCE(format_type(NULLIF({oid}, 0), NULL), 'NONE')")
}

/// `NOT EXISTS` a dependency that makes the object part of another: an extension's
/// (`e`), or one the server made along with something else (`i`: a range type's cast to its
/// multirange).
fn not_member(catalog: &str, oid: &str) -> String {
    not_depending(catalog, oid, "'e', 'i'")
}

fn objects_query(version: u32, kinds: &[ObjectKind]) -> String {
    // Where an ICU or builtin collation's locale is: `collcollate` before 15, `colliculocale`
    // in 15 and 16, `colllocale` from 17.
    let locale = if version >= 170_000 {
        "c.colllocale"
    } else if version >= 150_000 {
        "c.colliculocale"
    } else {
        "c.collcollate"
    };
    let rules = if version >= 160_000 {
        "CASE WHEN c.collicurules IS NOT NULL \
              THEN 'rules = ' || quote_literal(c.collicurules) END, "
    } else {
        ""
    };
    let collation_name = sql_name("n.nspname", "c.collname");
    let collations = format!(
        "SELECT 'collation' AS kind, {collation_name} AS name, \
                ARRAY['CREATE COLLATION ' || {collation_name} || ' (' || concat_ws(', ', \
                    'provider = ' || CASE c.collprovider WHEN 'i' THEN 'icu' \
                        WHEN 'b' THEN 'builtin' ELSE 'libc' END, \
                    CASE WHEN c.collprovider = 'c' AND c.collcollate = c.collctype \
                         THEN 'locale = ' || quote_literal(c.collcollate) END, \
                    CASE WHEN c.collprovider = 'c' AND c.collcollate <> c.collctype \
                         THEN 'lc_collate = ' || quote_literal(c.collcollate) \
                              || ', lc_ctype = ' || quote_literal(c.collctype) END, \
                    CASE WHEN c.collprovider <> 'c' \
                         THEN 'locale = ' || quote_literal({locale}) END, \
                    {rules}\
                    CASE WHEN NOT c.collisdeterministic THEN 'deterministic = false' END) \
                    || ')'] AS definition, \
                d.description AS comment \
         FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace {comment} \
         WHERE c.oid >= {FIRST_USER_OID} AND {USER_NAMESPACE} AND {not_member}",
        comment = comment_join("d", "pg_collation", "c.oid", "0"),
        not_member = not_member("pg_collation", "c.oid"),
    );
    let dictionary_name = sql_name("n.nspname", "t.dictname");
    let dictionaries = format!(
        "SELECT 'text search dictionary', {dictionary_name}, \
                ARRAY['CREATE TEXT SEARCH DICTIONARY ' || {dictionary_name} || ' (TEMPLATE = ' \
                    || {template} || COALESCE(', ' || t.dictinitoption, '') || ')'], \
                d.description \
         FROM pg_ts_dict t JOIN pg_namespace n ON n.oid = t.dictnamespace \
         JOIN pg_ts_template tt ON tt.oid = t.dicttemplate \
         JOIN pg_namespace tn ON tn.oid = tt.tmplnamespace {comment} \
         WHERE t.oid >= {FIRST_USER_OID} AND {USER_NAMESPACE} AND {not_member}",
        template = sql_name("tn.nspname", "tt.tmplname"),
        comment = comment_join("d", "pg_ts_dict", "t.oid", "0"),
        not_member = not_member("pg_ts_dict", "t.oid"),
    );
    // A configuration's mappings: token types that use the same dictionaries, in the same
    // order, are one `ADD MAPPING`, in the order of their first token type.
    let configuration_name = sql_name("n.nspname", "c.cfgname");
    let configurations = format!(
        "SELECT 'text search configuration', {configuration_name}, \
                ARRAY['CREATE TEXT SEARCH CONFIGURATION ' || {configuration_name} \
                      || ' (PARSER = ' || {parser} || ')'] \
                || ARRAY(SELECT 'ALTER TEXT SEARCH CONFIGURATION ' || {configuration_name} \
                                || ' ADD MAPPING FOR ' \
                                || string_agg(m.alias, ', ' ORDER BY m.tokid) \
                                || ' WITH ' || m.dictionaries \
                         FROM (SELECT tt.tokid, tt.alias, \
                                      string_agg({dictionary}, ', ' ORDER BY mm.mapseqno) \
                                          AS dictionaries \
                               FROM ts_token_type(c.cfgparser) tt \
                               JOIN pg_ts_config_map mm ON mm.mapcfg = c.oid \
                                    AND mm.maptokentype = tt.tokid \
                               JOIN pg_ts_dict md ON md.oid = mm.mapdict \
                               JOIN pg_namespace mn ON mn.oid = md.dictnamespace \
                               GROUP BY tt.tokid, tt.alias) m \
                         GROUP BY m.dictionaries ORDER BY min(m.tokid)), \
                d.description \
         FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace \
         JOIN pg_ts_parser p ON p.oid = c.cfgparser \
         JOIN pg_namespace pn ON pn.oid = p.prsnamespace {comment} \
         WHERE c.oid >= {FIRST_USER_OID} AND {USER_NAMESPACE} AND {not_member}",
        parser = sql_name("pn.nspname", "p.prsname"),
        dictionary = sql_name("mn.nspname", "md.dictname"),
        comment = comment_join("d", "pg_ts_config", "c.oid", "0"),
        not_member = not_member("pg_ts_config", "c.oid"),
    );
    let wrappers = format!(
        "SELECT 'foreign data wrapper', quote_ident(w.fdwname), \
                ARRAY['CREATE FOREIGN DATA WRAPPER ' || quote_ident(w.fdwname) \
                    || CASE WHEN w.fdwhandler <> 0 \
                            THEN ' HANDLER ' || w.fdwhandler::regproc::text ELSE '' END \
                    || CASE WHEN w.fdwvalidator <> 0 \
                            THEN ' VALIDATOR ' || w.fdwvalidator::regproc::text ELSE '' END \
                    || {options}], \
                d.description \
         FROM pg_foreign_data_wrapper w {comment} \
         WHERE w.oid >= {FIRST_USER_OID} AND {not_member}",
        options = options("w.fdwoptions"),
        comment = comment_join("d", "pg_foreign_data_wrapper", "w.oid", "0"),
        not_member = not_member("pg_foreign_data_wrapper", "w.oid"),
    );
    let servers = format!(
        "SELECT 'server', quote_ident(s.srvname), \
                ARRAY['CREATE SERVER ' || quote_ident(s.srvname) \
                    || COALESCE(' TYPE ' || quote_literal(s.srvtype), '') \
                    || COALESCE(' VERSION ' || quote_literal(s.srvversion), '') \
                    || ' FOREIGN DATA WRAPPER ' || quote_ident(w.fdwname) || {options}], \
                d.description \
         FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw {comment} \
         WHERE s.oid >= {FIRST_USER_OID} AND {not_member}",
        options = options("s.srvoptions"),
        comment = comment_join("d", "pg_foreign_server", "s.oid", "0"),
        not_member = not_member("pg_foreign_server", "s.oid"),
    );
    let operator = operator_name("n.nspname", "o.oprname");
    let operator_key = format!(
        "{operator} || ' (' || {left} || ', ' || {right} || ')'",
        left = operand("o.oprleft"),
        right = operand("o.oprright"),
    );
    let linked = |alias: &str| {
        format!("'OPERATOR(' || quote_ident({alias}n.nspname) || '.' || {alias}.oprname || ')'")
    };
    let operators = format!(
        "SELECT 'operator', {operator_key}, \
                ARRAY['CREATE OPERATOR ' || {operator} || ' (' || concat_ws(', ', \
                    'FUNCTION = ' || o.oprcode::regproc::text, \
                    'LEFTARG = ' || format_type(NULLIF(o.oprleft, 0), NULL), \
                    'RIGHTARG = ' || format_type(NULLIF(o.oprright, 0), NULL), \
                    'COMMUTATOR = ' || {commutator}, \
                    'NEGATOR = ' || {negator}, \
                    CASE WHEN o.oprrest <> 0 THEN 'RESTRICT = ' || o.oprrest::regproc::text END, \
                    CASE WHEN o.oprjoin <> 0 THEN 'JOIN = ' || o.oprjoin::regproc::text END, \
                    CASE WHEN o.oprcanhash THEN 'HASHES' END, \
                    CASE WHEN o.oprcanmerge THEN 'MERGES' END) || ')'], \
                d.description \
         FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace \
         LEFT JOIN pg_operator co ON co.oid = o.oprcom \
         LEFT JOIN pg_namespace con ON con.oid = co.oprnamespace \
         LEFT JOIN pg_operator ne ON ne.oid = o.oprnegate \
         LEFT JOIN pg_namespace nen ON nen.oid = ne.oprnamespace {comment} \
         WHERE o.oid >= {FIRST_USER_OID} AND o.oprcode <> 0 AND {USER_NAMESPACE} AND {not_member}",
        commutator = linked("co"),
        negator = linked("ne"),
        comment = comment_join("d", "pg_operator", "o.oid", "0"),
        not_member = not_member("pg_operator", "o.oid"),
    );
    let family_key = format!(
        "{} || ' USING ' || quote_ident(am.amname)",
        sql_name("n.nspname", "f.opfname")
    );
    let families = format!(
        "SELECT 'operator family', {family_key}, \
                ARRAY['CREATE OPERATOR FAMILY ' || {family_key}], d.description \
         FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace \
         JOIN pg_am am ON am.oid = f.opfmethod {comment} \
         WHERE f.oid >= {FIRST_USER_OID} AND {USER_NAMESPACE} AND {not_member}",
        comment = comment_join("d", "pg_opfamily", "f.oid", "0"),
        not_member = not_member("pg_opfamily", "f.oid"),
    );
    // A class's operators and support functions are those that depend on the class (the
    // family's loose members, added with `ALTER OPERATOR FAMILY`, depend on the family).
    let member = |catalog: &str, alias: &str| {
        format!(
            "JOIN pg_depend md ON md.classid = '{catalog}'::regclass AND md.objid = {alias}.oid \
                  AND md.refclassid = 'pg_opclass'::regclass AND md.refobjid = c.oid"
        )
    };
    let class_key = format!(
        "{} || ' USING ' || quote_ident(am.amname)",
        sql_name("n.nspname", "c.opcname")
    );
    let classes = format!(
        "SELECT 'operator class', {class_key}, \
                ARRAY['CREATE OPERATOR CLASS ' || {class_name} \
                    || CASE WHEN c.opcdefault THEN ' DEFAULT' ELSE '' END \
                    || ' FOR TYPE ' || format_type(c.opcintype, NULL) \
                    || ' USING ' || quote_ident(am.amname) || ' FAMILY ' || {family} \
                    || ' AS ' || concat_ws(', ', \
                        NULLIF(array_to_string(ARRAY( \
                            SELECT 'OPERATOR ' || ao.amopstrategy || ' ' \
                                   || ao.amopopr::regoperator::text \
                                   || CASE WHEN ao.amoppurpose = 'o' \
                                           THEN ' FOR ORDER BY ' || {sort_family} ELSE '' END \
                            FROM pg_amop ao {amop_member} \
                            LEFT JOIN pg_opfamily sf ON sf.oid = ao.amopsortfamily \
                            LEFT JOIN pg_namespace sfn ON sfn.oid = sf.opfnamespace \
                            ORDER BY ao.amopstrategy), ', '), ''), \
                        NULLIF(array_to_string(ARRAY( \
                            SELECT 'FUNCTION ' || ap.amprocnum || ' (' \
                                   || format_type(ap.amproclefttype, NULL) || ', ' \
                                   || format_type(ap.amprocrighttype, NULL) || ') ' \
                                   || ap.amproc::regprocedure::text \
                            FROM pg_amproc ap {amproc_member} \
                            ORDER BY ap.amprocnum, ap.amproclefttype, ap.amprocrighttype), \
                            ', '), ''), \
                        CASE WHEN c.opckeytype <> 0 \
                             THEN 'STORAGE ' || format_type(c.opckeytype, NULL) END)], \
                d.description \
         FROM pg_opclass c JOIN pg_namespace n ON n.oid = c.opcnamespace \
         JOIN pg_am am ON am.oid = c.opcmethod \
         JOIN pg_opfamily f ON f.oid = c.opcfamily \
         JOIN pg_namespace fn ON fn.oid = f.opfnamespace {comment} \
         WHERE c.oid >= {FIRST_USER_OID} AND {USER_NAMESPACE} AND {not_member}",
        class_name = sql_name("n.nspname", "c.opcname"),
        family = sql_name("fn.nspname", "f.opfname"),
        sort_family = sql_name("sfn.nspname", "sf.opfname"),
        amop_member = member("pg_amop", "ao"),
        amproc_member = member("pg_amproc", "ap"),
        comment = comment_join("d", "pg_opclass", "c.oid", "0"),
        not_member = not_member("pg_opclass", "c.oid"),
    );
    let cast_key = "'(' || format_type(c.castsource, NULL) || ' AS ' \
                    || format_type(c.casttarget, NULL) || ')'";
    let casts = format!(
        "SELECT 'cast', {cast_key}, \
                ARRAY['CREATE CAST ' || {cast_key} || CASE c.castmethod \
                    WHEN 'f' THEN ' WITH FUNCTION ' || c.castfunc::regprocedure::text \
                    WHEN 'i' THEN ' WITH INOUT' ELSE ' WITHOUT FUNCTION' END \
                    || CASE c.castcontext WHEN 'a' THEN ' AS ASSIGNMENT' \
                        WHEN 'i' THEN ' AS IMPLICIT' ELSE '' END], \
                d.description \
         FROM pg_cast c {comment} \
         WHERE c.oid >= {FIRST_USER_OID} AND {not_member}",
        comment = comment_join("d", "pg_cast", "c.oid", "0"),
        not_member = not_member("pg_cast", "c.oid"),
    );
    let table_name = sql_name("n.nspname", "c.relname");
    let foreign_tables = format!(
        "SELECT 'foreign table', {table_name}, \
                ARRAY['CREATE FOREIGN TABLE ' || {table_name} || ' (' || COALESCE(( \
                    SELECT string_agg(quote_ident(a.attname) || ' ' \
                               || format_type(a.atttypid, a.atttypmod) || {column_options} \
                               || CASE WHEN a.attcollation <> at.typcollation \
                                       THEN ' COLLATE ' || {collation} ELSE '' END \
                               || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END \
                               || COALESCE(' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid), ''), \
                               ', ' ORDER BY a.attnum) \
                    FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid \
                    LEFT JOIN pg_collation ac ON ac.oid = a.attcollation \
                    LEFT JOIN pg_namespace acn ON acn.oid = ac.collnamespace \
                    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') \
                    || ') SERVER ' || quote_ident(s.srvname) || {table_options}], \
                d.description \
         FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_foreign_server s ON s.oid = ft.ftserver {comment} \
         WHERE ft.ftrelid >= {FIRST_USER_OID} AND {USER_NAMESPACE} AND {not_member}",
        column_options = options("a.attfdwoptions"),
        collation = sql_name("acn.nspname", "ac.collname"),
        table_options = options("ft.ftoptions"),
        comment = comment_join("d", "pg_class", "c.oid", "0"),
        not_member = not_member("pg_class", "c.oid"),
    );
    let trigger_name = "quote_ident(et.evtname)";
    let event_triggers = format!(
        "SELECT 'event trigger', {trigger_name}, \
                ARRAY['CREATE EVENT TRIGGER ' || {trigger_name} || ' ON ' || et.evtevent \
                    || COALESCE(' WHEN TAG IN (' || (SELECT string_agg(quote_literal(t), ', ' \
                                ORDER BY t) FROM unnest(et.evttags) t) || ')', '') \
                    || ' EXECUTE FUNCTION ' || et.evtfoid::regproc::text || '()', \
                    CASE et.evtenabled WHEN 'D' THEN 'ALTER EVENT TRIGGER ' || {trigger_name} \
                            || ' DISABLE' \
                        WHEN 'R' THEN 'ALTER EVENT TRIGGER ' || {trigger_name} \
                            || ' ENABLE REPLICA' \
                        WHEN 'A' THEN 'ALTER EVENT TRIGGER ' || {trigger_name} \
                            || ' ENABLE ALWAYS' \
                        ELSE '' END], \
                d.description \
         FROM pg_event_trigger et {comment} \
         WHERE et.oid >= {FIRST_USER_OID} AND {not_member}",
        comment = comment_join("d", "pg_event_trigger", "et.oid", "0"),
        not_member = not_member("pg_event_trigger", "et.oid"),
    );
    // In `ObjectKind::ALL`'s order.
    let branches = [
        collations,
        dictionaries,
        configurations,
        wrappers,
        servers,
        operators,
        families,
        classes,
        casts,
        foreign_tables,
        event_triggers,
    ]
    .into_iter()
    .zip(ObjectKind::ALL)
    .filter(|(_, kind)| kinds.contains(kind))
    .map(|(branch, _)| branch)
    .collect::<Vec<_>>();
    // The columns named once for every branch (the first branch may be any kind's).
    format!(
        "SELECT * FROM ({}) AS o(kind, name, definition, comment)",
        branches.join(" UNION ALL ")
    )
}

/// Which kinds have any object past the system's, an extension's included: one index probe
/// per catalog. Most schemas have none of these kinds, and planning the whole query takes
/// the server ten times longer than this.
const PROBE: &str = "SELECT ARRAY[\
     EXISTS (SELECT FROM pg_collation WHERE oid >= 16384), \
     EXISTS (SELECT FROM pg_ts_dict WHERE oid >= 16384), \
     EXISTS (SELECT FROM pg_ts_config WHERE oid >= 16384), \
     EXISTS (SELECT FROM pg_foreign_data_wrapper), \
     EXISTS (SELECT FROM pg_foreign_server), \
     EXISTS (SELECT FROM pg_operator WHERE oid >= 16384), \
     EXISTS (SELECT FROM pg_opfamily WHERE oid >= 16384), \
     EXISTS (SELECT FROM pg_opclass WHERE oid >= 16384), \
     EXISTS (SELECT FROM pg_cast WHERE oid >= 16384), \
     EXISTS (SELECT FROM pg_foreign_table), \
     EXISTS (SELECT FROM pg_event_trigger)] AS present";
