SELECT 'bang sorts before dot';
