//! Rendering a schema model as deterministic DDL-like text.

use super::model::Schema;

/// The schema as text: the same schema gives the same text, byte for byte.
pub fn render(schema: &Schema) -> String {
    let _ = schema;
    todo!("schema render")
}
