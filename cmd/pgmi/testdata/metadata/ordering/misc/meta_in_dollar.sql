SELECT $$ /* <pgmi-meta id="bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb" idempotent="true"></pgmi-meta> */ $$;
