-- Revert {{ name }}: write the statements that undo exactly what up.sql does
-- (`cargo migrate check` verifies it). Until then the migration is irreversible: `down`
-- refuses it. If reverting needs no statements, put `-- migrate:down-does-nothing` on a line
-- of its own.

