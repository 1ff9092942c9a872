-- flux:store catalog
-- flux:up
create table rooms (
  id int primary key,
  hotel_slug text not null references hotels,
  kind text not null,
  beds int not null,
  price_cents int not null
);
create index rooms_hotel on rooms (hotel_slug);
-- flux:down
drop table rooms;
