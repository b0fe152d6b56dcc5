/*
<pgmi-meta id="6f1c1f0e-2b61-4a57-9c53-0d6b8f3c1a01" idempotent="false">
  <description>Products with a stock count</description>
  <sortKeys><key>010/product</key></sortKeys>
</pgmi-meta>
*/
CREATE TABLE product (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku      text NOT NULL UNIQUE,
    name     text NOT NULL,
    in_stock integer NOT NULL DEFAULT 0 CHECK (in_stock >= 0)
);
