/*
<pgmi-meta id="11111111-1111-4111-8111-111111111111" idempotent="true">
</pgmi-meta>
*/
-- hidden: never scanned
