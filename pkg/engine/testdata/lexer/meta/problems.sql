/*
<pgmi-meta id="00000000-0000-0000-0000-000000000000" idempotent="maybe">
  <description>   </description>
  <sortKeys><key>ok</key><key> </key></sortKeys>
</pgmi-meta>
*/
