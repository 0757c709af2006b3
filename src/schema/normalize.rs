//! Normalisation of SQL text taken from a database as the user wrote it (SQLite stores the
//! original statements), so that spelling differences that do not change meaning compare equal.
