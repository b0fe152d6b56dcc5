/*
<pgmi-meta id="151d3adc-a134-4271-afaa-a60291242823" idempotent="true">
  <description>The app schema and its tables</description>
  <sortKeys>
    <key>100/schemas/app</key>
  </sortKeys>
</pgmi-meta>
*/
-- Idempotent: runs on every deployment, so every statement must be safe to
-- repeat. Columns added later go in a one-time file under changes/.
CREATE SCHEMA IF NOT EXISTS app;

CREATE TABLE IF NOT EXISTS app.product (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sku         text NOT NULL UNIQUE CHECK (sku = upper(sku)),
  name        text NOT NULL,
  price_cents integer NOT NULL CHECK (price_cents >= 0)
);

CREATE TABLE IF NOT EXISTS app.customer_order (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  placed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS app.order_line (
  order_id         bigint NOT NULL REFERENCES app.customer_order (id) ON DELETE CASCADE,
  product_id       bigint NOT NULL REFERENCES app.product (id),
  quantity         integer NOT NULL CHECK (quantity > 0),
  unit_price_cents integer NOT NULL CHECK (unit_price_cents >= 0),
  PRIMARY KEY (order_id, product_id)
);
