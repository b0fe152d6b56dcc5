/*
<pgmi-meta id="eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee" idempotent="true">
  <sortKeys>
    <key>000/first</key>
  </sortKeys>
</pgmi-meta>
*/
SELECT 1;
