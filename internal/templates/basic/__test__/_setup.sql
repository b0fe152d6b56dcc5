-- Fixture: runs before the tests of this directory; its rows disappear when
-- the directory's tests are done (pgmi rolls back to a savepoint).
INSERT INTO app.customer (email, full_name)
VALUES ('ada@example.com', 'Ada Lovelace');
