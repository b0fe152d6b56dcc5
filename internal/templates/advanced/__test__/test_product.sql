-- A test is plain SQL: raise an exception to fail it (and the deployment).
DO $test$
DECLARE
  first_id  bigint;
  second_id bigint;
  price     integer;
BEGIN
  SELECT id INTO STRICT first_id FROM app.product WHERE sku = 'TEST-KETTLE';
  second_id := app.upsert_product('Test-Kettle', 'Test kettle', 2700);
  IF second_id <> first_id THEN
    RAISE EXCEPTION 'upsert_product created a second product (% and %)', first_id, second_id;
  END IF;
  SELECT price_cents INTO price FROM app.product WHERE id = first_id;
  IF price <> 2700 THEN
    RAISE EXCEPTION 'price is %, expected 2700', price;
  END IF;

  PERFORM app.discontinue_product('test-kettle');
  IF NOT EXISTS (SELECT 1 FROM app.product WHERE id = first_id AND discontinued_at IS NOT NULL) THEN
    RAISE EXCEPTION 'discontinue_product did not mark the product';
  END IF;
END
$test$;
