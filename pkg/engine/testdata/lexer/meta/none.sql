/* just a comment mentioning pgmi-meta without a tag */
SELECT '<pgmi-meta id="x">';
