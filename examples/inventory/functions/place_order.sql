/*
<pgmi-meta id="6f1c1f0e-2b61-4a57-9c53-0d6b8f3c1a10" idempotent="true">
  <description>Places an order, taking the items out of stock</description>
  <sortKeys><key>100/functions</key></sortKeys>
</pgmi-meta>
*/
CREATE OR REPLACE FUNCTION place_order(p_sku text, p_quantity integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_product bigint;
    v_order   bigint;
BEGIN
    UPDATE product SET in_stock = in_stock - p_quantity
    WHERE sku = p_sku AND in_stock >= p_quantity
    RETURNING id INTO v_product;
    IF v_product IS NULL THEN
        RAISE EXCEPTION 'not enough % in stock', p_sku USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO customer_order DEFAULT VALUES RETURNING id INTO v_order;
    INSERT INTO order_line (order_id, product_id, quantity) VALUES (v_order, v_product, p_quantity);
    RETURN v_order;
END
$$;
