SELECT 'space in name';
