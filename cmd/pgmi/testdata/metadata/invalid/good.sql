/*
<pgmi-meta id="06060606-0606-4606-8606-060606060606" idempotent="true">
  <sortKeys>
    <key>010/good</key>
  </sortKeys>
</pgmi-meta>
*/
SELECT 1;
