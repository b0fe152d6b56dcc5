-- Runs after the parent directory's fixture, so the test kettle exists.
WITH o AS (INSERT INTO app.customer_order DEFAULT VALUES RETURNING id)
SELECT set_config('test.order_id', o.id::text, true) FROM o;

SELECT app.add_to_order(current_setting('test.order_id')::bigint, 'test-kettle', 2);
