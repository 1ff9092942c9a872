-- flux:store meta            (a role: the application binds it to one of its pg stores)
-- One row per photo: whose it is, its place in the gallery, its size. The bytes live in the
-- `blobs` role's store at `key`.
-- flux:up
create table image_photos (
  key text primary key,
  owner text not null,
  position int not null,
  width int not null,
  height int not null,
  bytes int not null,
  caption text not null default ''
);
create index image_photos_owner on image_photos (owner, position);
-- flux:down
drop table image_photos;
