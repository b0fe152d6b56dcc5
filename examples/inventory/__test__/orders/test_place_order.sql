DO $$
DECLARE
    v_order bigint := place_order('WIDGET', 3);
BEGIN
    IF (SELECT in_stock FROM product WHERE sku = 'WIDGET') <> 7 THEN
        RAISE EXCEPTION 'stock was not taken';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM order_line WHERE order_id = v_order AND quantity = 3) THEN
        RAISE EXCEPTION 'order line missing';
    END IF;
END
$$;
