/* COMMIT; /* nested ; COMMIT; */ still in the comment; */
SELECT 1; -- COMMIT;
COMMIT; /* trailing */
/* leading /* nested */ comment */ SELECT 2;
-- only a comment ;
SELECT 3; /* unterminated ; COMMIT;
