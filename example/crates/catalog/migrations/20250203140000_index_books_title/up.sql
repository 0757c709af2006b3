-- migrate:no-transaction
-- Builds the index without blocking writes to a busy table.
CREATE INDEX CONCURRENTLY IF NOT EXISTS books_title_idx ON books (lower(title));
