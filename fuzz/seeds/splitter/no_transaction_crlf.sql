-- migrate:no-transaction
CREATE INDEX CONCURRENTLY users_email ON users (email);
ALTER TYPE mood ADD VALUE 'meh';
