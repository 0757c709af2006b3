//! The SQLite driver: reads a live database into the model ([`inspect`]). Its statements are
//! the SQLite half of [`super::plan`].

mod inspect;

pub(crate) use inspect::inspect;
