-- Fixture for every test below this directory; rolled back after them.
INSERT INTO product (sku, name, in_stock) VALUES ('WIDGET', 'Widget', 10), ('GADGET', 'Gadget', 0);
