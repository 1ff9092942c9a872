-- flux:store catalog
-- The first site counted hotel page views in PostgreSQL; release 2 moves the counters to Redis.
-- flux:up
create table page_views (
  hotel_slug text primary key references hotels,
  views int not null default 0
);
-- flux:down
drop table page_views;
