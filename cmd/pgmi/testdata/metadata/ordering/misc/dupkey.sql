/*
<pgmi-meta id="urn:uuid:66666666-6666-4666-8666-666666666666" idempotent="0">
  <sortKeys>
    <key>030/x</key>
    <key>030/x</key>
  </sortKeys>
</pgmi-meta>
*/
SELECT 6;
