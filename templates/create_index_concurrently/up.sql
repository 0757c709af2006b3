-- migrate:no-transaction
{% if dialect == "postgres" -%}
-- Builds the index without locking writes; runs outside a transaction, statement by statement.
CREATE INDEX CONCURRENTLY IF NOT EXISTS {{ table }}_{{ column }}_idx ON {{ table }} ({{ column }});
{%- else -%}
-- CONCURRENTLY is PostgreSQL-only; {{ dialect }} builds the index in place.
CREATE INDEX {{ table }}_{{ column }}_idx ON {{ table }} ({{ column }});
{%- endif %}
