INSERT INTO t (a) VALUES (E'it\'s; fine'), (e'caf\xC3\xA9'), ('plain ''quoted;''');
SELECT U&'d\0061t\+000061', N'national', B'1010', X'1F';
SELECT "quoted;identifier", "with""quote" FROM "My Table";
