SELECT 'no metadata';
