/*
<pgmi-meta id="99999999-9999-4999-8999-999999999999" idempotent="false">
  <sortKeys>
    <key>040/tie</key>
  </sortKeys>
</pgmi-meta>
*/
SELECT 9;
