SELECT 'nested deploy.sql is an ordinary file';
