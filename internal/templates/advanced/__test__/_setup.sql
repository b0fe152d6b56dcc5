-- Fixture for every test below this directory (including orders/). pgmi
-- rolls it back when the directory's tests are done.
SELECT app.upsert_product('test-kettle', 'Test kettle', 2500);
