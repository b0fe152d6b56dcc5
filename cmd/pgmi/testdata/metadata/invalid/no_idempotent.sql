/*
<pgmi-meta id="01010101-0101-4101-8101-010101010101"></pgmi-meta>
*/
SELECT 1;
