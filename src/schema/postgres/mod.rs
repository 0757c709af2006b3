//! The PostgreSQL driver: reads a live database into the model ([`inspect`]) and plans the
//! statements that change it (`plan`: the PostgreSQL half of [`super::plan`]).

mod inspect;
mod plan;

pub(crate) use inspect::{inspect, inspect_prepared};
