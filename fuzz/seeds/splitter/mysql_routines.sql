/*!40101 SET NAMES utf8mb4 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE; */
CREATE DEFINER=`root`@`localhost` PROCEDURE bump(IN n INT)
BEGIN
  IF n > 0 THEN
    UPDATE counters SET c = c + n; # hash comment;
  END IF;
  WHILE n > 0 DO SET n = n - 1; END WHILE;
  CASE n WHEN 0 THEN SELECT 'zero;'; ELSE SELECT 'other\';'; END CASE;
END;
SELECT @x, @`y`; --
