-- a line comment first
/* an ordinary comment */
/*
<pgmi-meta id="33333333-3333-4333-8333-333333333333" idempotent="TRUE">
  <sortKeys>
    <key>020/views</key>
  </sortKeys>
</pgmi-meta>
*/
SELECT 3;
