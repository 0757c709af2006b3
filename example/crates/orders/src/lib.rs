//! The bookshop's orders.
