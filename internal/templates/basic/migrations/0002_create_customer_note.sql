CREATE TABLE app.customer_note (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES app.customer (id) ON DELETE CASCADE,
  body        text NOT NULL CHECK (body <> ''),
  written_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX customer_note_customer_idx ON app.customer_note (customer_id);
