-- {{ name }} ({{ version }}{% if package %}, {{ package }}{% endif %}, {{ dialect }})
-- Runs in one transaction together with its history row.

