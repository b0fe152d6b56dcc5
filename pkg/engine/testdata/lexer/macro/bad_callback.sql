BEGIN;
SELECT 1;
CALL pgmi_test(NULL, 'a.b.c');
COMMIT;
