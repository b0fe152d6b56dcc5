DO $$
BEGIN
    IF (SELECT in_stock FROM product WHERE sku = 'WIDGET') <> 10 THEN
        RAISE EXCEPTION 'fixture did not load';
    END IF;
END
$$;
