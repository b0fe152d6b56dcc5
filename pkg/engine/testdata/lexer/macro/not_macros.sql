-- CALL pgmi_test();
/* CALL pgmi_test(); /* nested CALL pgmi_test(); */ */
SELECT 'CALL pgmi_test();', "CALL pgmi_test()";
DO $$ BEGIN CALL pgmi_test(); END $$;
DO $body$ BEGIN CALL pgmi_test('x'); END $body$;
CALL pgmi_test(NULL, NULL);
CALL pgmi_test($$x$$);
CALL pgmi_test(E'x');
CALL pgmi_test('it''s');
xCALL pgmi_test();
CALL public.pgmi_test();
