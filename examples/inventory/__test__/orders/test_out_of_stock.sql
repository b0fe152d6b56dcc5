DO $$
BEGIN
    PERFORM place_order('GADGET', 1);
    RAISE EXCEPTION 'an order without stock was accepted';
EXCEPTION WHEN check_violation THEN
    NULL;  -- expected
END
$$;
