/*
<pgmi-meta id="{44444444-4444-4444-8444-44444444ABCD}" idempotent="f">
  <description>  padded description  </description>
  <sortKeys>
    <key>éclair</key>
    <key>Zebra</key>
  </sortKeys>
</pgmi-meta>
*/
SELECT 4;
