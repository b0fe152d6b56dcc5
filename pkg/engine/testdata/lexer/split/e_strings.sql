SELECT E'it\'s; COMMIT;', e'\\', 'plain\';
COMMIT;
SELECT E'\'' AS q; SELECT xE'\' AS not_escape;
SELECT U&'\0441;' AS u;
