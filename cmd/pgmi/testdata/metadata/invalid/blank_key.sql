/*
<pgmi-meta id="05050505-0505-4505-8505-050505050505" idempotent="true">
  <sortKeys>
    <key>   </key>
  </sortKeys>
</pgmi-meta>
*/
