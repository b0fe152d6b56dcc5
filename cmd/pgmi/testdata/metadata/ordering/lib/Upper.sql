SELECT 'upper case sorts first in C';
