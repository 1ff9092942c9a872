-- flux:store catalog
-- flux:repeatable true     (a view is replaced, not altered: edit this file and flux up re-runs it)
-- What the home and destination pages list: one row per hotel, with its cheapest room.
-- flux:up
create or replace view hotel_cards as
select h.slug, h.name, h.stars, h.destination_slug, d.name as destination_name, d.country,
       coalesce(min(r.price_cents), h.price_cents) as price_from_cents
from hotels h
join destinations d on d.slug = h.destination_slug
left join rooms r on r.hotel_slug = h.slug
group by h.slug, d.slug;
-- flux:down
drop view if exists hotel_cards;
