/*
<pgmi-meta id="77777777-7777-4777-8777-777777777777" idempotent="1">
  <description>no keys: runs under its path</description>
  <sortKeys>
  </sortKeys>
</pgmi-meta>
*/
SELECT 7;
