/*
<pgmi-meta id="22222222-2222-4222-8222-222222222222" idempotent="true">
  <description>Views, refreshed at the end</description>
  <sortKeys>
    <key>020/views</key>
    <key>900/refresh-views</key>
  </sortKeys>
</pgmi-meta>
*/
SELECT 2;
