-- flux:store catalog
-- flux:up
create table destinations (
  slug text primary key,
  name text not null,
  country text not null,
  summary text not null
);
-- flux:down
drop table destinations;
