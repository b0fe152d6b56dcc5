/*
<pgmi-meta id="f0f0f0f0-f0f0-4f0f-8f0f-f0f0f0f0f0f0" idempotent="true">
</pgmi-meta>
*/
SELECT 1;
