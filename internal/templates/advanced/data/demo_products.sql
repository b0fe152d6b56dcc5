/*
<pgmi-meta id="9ceff096-82b6-49b5-baad-c35b9df49e84" idempotent="true">
  <description>Demo catalogue, loaded when the demo_data parameter is true</description>
  <sortKeys>
    <key>400/data/demo_products</key>
  </sortKeys>
</pgmi-meta>
*/
DO $demo$
BEGIN
  IF lower(COALESCE(current_setting('pgmi.demo_data', true), '')) NOT IN ('true', 'on', 'yes', '1') THEN
    RAISE NOTICE 'demo_data is not true: no demo products';
    RETURN;
  END IF;
  PERFORM app.upsert_product('tea-green', 'Green tea, 100 g', 450);
  PERFORM app.upsert_product('tea-black', 'Black tea, 100 g', 390);
  PERFORM app.upsert_product('mug', 'Stoneware mug', 1200);
END
$demo$;
