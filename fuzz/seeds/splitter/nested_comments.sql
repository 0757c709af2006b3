/* outer /* inner; */ still a comment; */
SELECT 1; -- trailing; comment
/* unclosed /* twice */ */ SELECT 2;
-- only a comment at the end;
