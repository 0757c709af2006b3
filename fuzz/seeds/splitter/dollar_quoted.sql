CREATE FUNCTION set_updated_at() RETURNS trigger AS $$
BEGIN
    NEW.updated_at := now(); -- keep it fresh;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION tagged() RETURNS text AS $body$ SELECT 'a;b' $body$ LANGUAGE sql;
SELECT $x$ nested $$ not the end; $x$;
