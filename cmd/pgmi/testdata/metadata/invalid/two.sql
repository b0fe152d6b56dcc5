/*
<pgmi-meta id="03030303-0303-4303-8303-030303030303" idempotent="true">
</pgmi-meta>
*/
/*
<pgmi-meta id="04040404-0404-4404-8404-040404040404" idempotent="true">
</pgmi-meta>
*/
