CREATE TEMP TABLE fx (id int);
