/*
<pgmi-meta id="dddddddd-dddd-4ddd-8ddd-dddddddddddd" idempotent="true">
  <sortKeys>
    <key>000/tests-never-planned</key>
  </sortKeys>
</pgmi-meta>
*/
SELECT 1;
