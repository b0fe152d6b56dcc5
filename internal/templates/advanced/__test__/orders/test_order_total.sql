DO $test$
DECLARE
  order_id bigint := current_setting('test.order_id')::bigint;
  total    bigint;
BEGIN
  PERFORM app.add_to_order(order_id, 'test-kettle', 1);
  total := app.order_total_cents(order_id);
  IF total <> 3 * 2500 THEN
    RAISE EXCEPTION 'order total is %, expected %', total, 3 * 2500;
  END IF;
END
$test$;
