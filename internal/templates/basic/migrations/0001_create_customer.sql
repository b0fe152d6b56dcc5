-- A migration runs once per database; deploy.sql records it in
-- public.schema_migration. Never edit it after it was deployed anywhere:
-- add the next numbered file instead.
CREATE SCHEMA app;

CREATE TABLE app.customer (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email      text NOT NULL,
  full_name  text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT customer_email_is_lowercase CHECK (email = lower(email))
);

CREATE UNIQUE INDEX customer_email_key ON app.customer (email);
