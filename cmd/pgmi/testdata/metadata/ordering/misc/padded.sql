/*
<pgmi-meta id="55555555555545558555555555555555" idempotent="True">
  <sortKeys>
    <key>  050/padded  </key>
  </sortKeys>
</pgmi-meta>
*/
SELECT 5;
