DO $do$
BEGIN
  -- CALL pgmi_test();
  RAISE NOTICE 'it''s %', 'CALL pgmi_test()';
END
$do$;
SELECT "weird;ident", E'\\', E'a\'b', $$ multi
line ; body $$;
