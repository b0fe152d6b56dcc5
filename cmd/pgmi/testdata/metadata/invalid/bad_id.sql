/*
<pgmi-meta id="nope" idempotent="true">
</pgmi-meta>
*/
SELECT 1;
