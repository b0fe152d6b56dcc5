/*
<pgmi-meta id="faf7dd32-5b49-4a80-b20c-a03b7dd1c8e6" idempotent="true">
  <description>Order functions</description>
  <sortKeys>
    <key>300/functions/order</key>
  </sortKeys>
</pgmi-meta>
*/
CREATE OR REPLACE FUNCTION app.add_to_order(p_order_id bigint, p_sku text, p_quantity integer)
RETURNS void
LANGUAGE plpgsql
AS $fn$
DECLARE
  item app.product;
BEGIN
  SELECT * INTO item FROM app.product WHERE sku = upper(p_sku);
  IF item.id IS NULL OR item.discontinued_at IS NOT NULL THEN
    RAISE EXCEPTION 'product % cannot be ordered', upper(p_sku) USING ERRCODE = 'no_data_found';
  END IF;
  INSERT INTO app.order_line AS l (order_id, product_id, quantity, unit_price_cents)
  VALUES (p_order_id, item.id, p_quantity, item.price_cents)
  ON CONFLICT (order_id, product_id) DO UPDATE SET quantity = l.quantity + excluded.quantity;
END
$fn$;

CREATE OR REPLACE FUNCTION app.order_total_cents(p_order_id bigint)
RETURNS bigint
LANGUAGE sql
STABLE
AS $fn$
  SELECT COALESCE(sum(l.quantity::bigint * l.unit_price_cents), 0)
    FROM app.order_line AS l
   WHERE l.order_id = p_order_id
$fn$;
