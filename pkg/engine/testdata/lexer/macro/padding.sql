BEGIN;
CREATE TABLE t (id int);
CALL pgmi_test('.*', 'pg_temp.pgmi_test_callback'); -- run the tests
COMMIT;
  CALL pgmi_test(); SELECT 'after';
SELECT 1;
