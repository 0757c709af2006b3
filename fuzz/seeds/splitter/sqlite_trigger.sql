CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, [weird;name] TEXT, `tick;` TEXT);
CREATE TEMP TRIGGER users_audit AFTER UPDATE ON users
BEGIN
    INSERT INTO audit (user_id, at) VALUES (new.id, CURRENT_TIMESTAMP);
    SELECT CASE WHEN new.email = '' THEN RAISE(ABORT, 'empty; email') END;
END;
PRAGMA foreign_keys = ON;
/* sqlite comment running to the end
