SELECT 'unicode path, no metadata';
