-- migrate:no-transaction
{% if dialect == "postgres" -%}
DROP INDEX CONCURRENTLY IF EXISTS {{ table }}_{{ column }}_idx;
{%- elif dialect == "mysql" -%}
DROP INDEX {{ table }}_{{ column }}_idx ON {{ table }};
{%- else -%}
DROP INDEX {{ table }}_{{ column }}_idx;
{%- endif %}
