SELECT 'bad ÿ byte';
