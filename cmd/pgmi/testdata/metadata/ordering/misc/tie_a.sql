/*
<pgmi-meta id="aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa" idempotent="false">
  <sortKeys>
    <key>040/tie</key>
  </sortKeys>
</pgmi-meta>
*/
SELECT 10;
