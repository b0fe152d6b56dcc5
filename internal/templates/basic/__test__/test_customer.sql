-- A test is plain SQL: raise an exception to fail it.
DO $test$
DECLARE
  n integer;
BEGIN
  SELECT count(*) INTO n FROM app.customer WHERE email = 'ada@example.com';
  IF n <> 1 THEN
    RAISE EXCEPTION 'expected the fixture customer, found % rows', n;
  END IF;

  BEGIN
    INSERT INTO app.customer (email, full_name) VALUES ('Ada@Example.com', 'Shouting Ada');
    RAISE EXCEPTION 'an e-mail address with capitals was accepted';
  EXCEPTION WHEN check_violation THEN
    NULL; -- expected
  END;
END
$test$;
