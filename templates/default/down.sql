-- Revert {{ name }}: undo exactly what up.sql does (`cargo migrate check` verifies it).

