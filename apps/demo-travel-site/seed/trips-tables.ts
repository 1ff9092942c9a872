// The PostgreSQL tables of itineraries and reviews (release 3): created by one migration,
// dropped by another once MongoDB has their rows, and created again by that one's down().
export const TRIPS_TABLES_SQL = `
create table itineraries (
  id int primary key,
  destination_slug text not null references destinations,
  title text not null
);
create table itinerary_stops (
  id int primary key,
  itinerary_id int not null references itineraries,
  day int not null,
  position int not null,
  title text not null,
  note text not null
);
create index itinerary_stops_itinerary on itinerary_stops (itinerary_id, day, position);
create table reviews (
  id int primary key,
  hotel_slug text not null references hotels,
  author text not null,
  rating int not null check (rating between 1 and 5),
  body text not null,
  created_at timestamptz not null
);
create index reviews_hotel on reviews (hotel_slug, created_at desc);
`

export const DROP_TRIPS_TABLES_SQL = 'drop table reviews, itinerary_stops, itineraries'
