ALTER TABLE {{ table }} ADD COLUMN {{ column }} {% if dialect == "postgres" %}text{% elif dialect == "sqlite" %}TEXT{% else %}VARCHAR(255){% endif %};
