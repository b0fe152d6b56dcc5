/*
<pgmi-meta id="11111111-1111-4111-8111-111111111111" idempotent="false">
  <description>Core tables</description>
  <sortKeys>
    <key>010/tables</key>
  </sortKeys>
</pgmi-meta>
*/
CREATE TABLE t (id int);
