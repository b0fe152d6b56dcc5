BEGIN;
CALL pgmi_test();
call PG_TEMP.pgmi_test('.*/users/.*', 'public.report');
CALL pgmi_test(NULL, 'my_cb')  ;
CALL pgmi_test('a');CALL pgmi_test('b');
CALL pgmi_test()
COMMIT;
