SELECT 'Ä€ unicode', $ж$ tag body $ж$; -- ümlaut comment
