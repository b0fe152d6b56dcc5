/*
<pgmi-meta id="{F0F0F0F0-F0F0-4F0F-8F0F-F0F0F0F0F0F0}" idempotent="false">
</pgmi-meta>
*/
SELECT 1;
