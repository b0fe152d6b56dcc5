/*
<pgmi-meta id="048bdffc-6ca5-4044-b615-64a078110f21" idempotent="true">
  <description>Product functions</description>
  <sortKeys>
    <key>300/functions/product</key>
  </sortKeys>
</pgmi-meta>
*/
-- CREATE OR REPLACE makes functions idempotent: edit them in place and the
-- next deployment replaces them.
CREATE OR REPLACE FUNCTION app.upsert_product(p_sku text, p_name text, p_price_cents integer)
RETURNS bigint
LANGUAGE sql
AS $fn$
  INSERT INTO app.product AS p (sku, name, price_cents)
  VALUES (upper(p_sku), p_name, p_price_cents)
  ON CONFLICT (sku) DO UPDATE
    SET name = excluded.name, price_cents = excluded.price_cents
  RETURNING p.id
$fn$;

CREATE OR REPLACE FUNCTION app.discontinue_product(p_sku text)
RETURNS void
LANGUAGE plpgsql
AS $fn$
BEGIN
  UPDATE app.product SET discontinued_at = COALESCE(discontinued_at, now())
   WHERE sku = upper(p_sku);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no product with SKU %', upper(p_sku) USING ERRCODE = 'no_data_found';
  END IF;
END
$fn$;
