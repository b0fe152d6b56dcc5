DO $test$
DECLARE
  ada bigint;
BEGIN
  SELECT id INTO STRICT ada FROM app.customer WHERE email = 'ada@example.com';
  INSERT INTO app.customer_note (customer_id, body) VALUES (ada, 'Prefers e-mail.');

  DELETE FROM app.customer WHERE id = ada;
  IF EXISTS (SELECT 1 FROM app.customer_note WHERE customer_id = ada) THEN
    RAISE EXCEPTION 'notes outlived their customer';
  END IF;
END
$test$;
