/*
<pgmi-meta id="35bb5d9f-0e0a-42fd-97a3-e7c1096c293f" idempotent="false">
  <description>Products can be discontinued</description>
  <sortKeys>
    <key>200/changes/0001</key>
  </sortKeys>
</pgmi-meta>
*/
-- One-time change (idempotent="false"): deploy.sql runs it once per database
-- and remembers it in deploy_log.script_run. Do not edit it once deployed.
ALTER TABLE app.product ADD COLUMN discontinued_at timestamptz;
