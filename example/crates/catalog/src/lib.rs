//! The bookshop's catalogue (books and authors).
