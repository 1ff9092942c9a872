-- flux:store shop
-- flux:up
create table products (
  sku text primary key,
  name text not null,
  price_cents int not null
);
insert into products values
  ('mug-kyoto', 'Kyoto mug', 1400),
  ('tote-lisbon', 'Lisbon tote bag', 1900),
  ('map-oaxaca', 'Oaxaca map print', 2500);
-- flux:down
drop table products;
