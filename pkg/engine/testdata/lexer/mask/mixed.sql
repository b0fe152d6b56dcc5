-- header comment with 'quote' and $$ dollars
/* outer /* nested ; */ still */
SELECT E'It\'s', 'it''s', U&'d\0061t', "Quoted ""Id""", $1, $$body ; $$,
       $fn$ nested $$ not closing $fn$, x$t$y$t$;
-- trailing
