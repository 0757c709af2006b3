//! The SQLite driver: reads a live database into the model ([`inspect`]) and plans the
//! statements that change it (`plan`: the SQLite half of [`super::plan`]).

mod inspect;
mod plan;

pub(crate) use inspect::inspect;
#[cfg(test)]
pub(in crate::schema) use plan::sqlite_bare_default;
pub(in crate::schema) use plan::sqlite_index;
