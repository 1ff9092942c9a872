-- flux:store catalog
-- flux:up
create table hotels (
  slug text primary key,
  destination_slug text not null references destinations,
  name text not null,
  stars int not null check (stars between 1 and 5),
  price_cents int not null,
  description text not null
);
create index hotels_destination on hotels (destination_slug);
-- flux:down
drop table hotels;
