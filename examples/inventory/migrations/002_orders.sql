/*
<pgmi-meta id="6f1c1f0e-2b61-4a57-9c53-0d6b8f3c1a02" idempotent="false">
  <description>Orders and their lines</description>
  <sortKeys><key>020/orders</key></sortKeys>
</pgmi-meta>
*/
CREATE TABLE customer_order (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    placed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE order_line (
    order_id   bigint NOT NULL REFERENCES customer_order (id),
    product_id bigint NOT NULL REFERENCES product (id),
    quantity   integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, product_id)
);
