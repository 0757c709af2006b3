//! The PostgreSQL driver: reads a live database into the model ([`inspect`]). Its statements
//! are the PostgreSQL half of [`super::plan`].

mod inspect;

pub(crate) use inspect::inspect;
