-- every fixture file is only loaded; nothing runs it
SELECT 1;
