BEGIN;
SELECT 1;
COMMIT;

-- nothing more to do
/* really
   nothing */
