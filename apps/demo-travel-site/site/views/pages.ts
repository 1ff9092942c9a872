import { html } from 'hono/html'
import type { Destination, Hotel, HotelCard, Room } from '../data/catalog.ts'
import type { Photo } from '../data/photos.ts'
import type { Itinerary, Review } from '../data/trips.ts'
import { destinationCard, hotelGrid, photoUrl, recentStrip } from './cards.ts'
import { type Html, money, notice, page, stars } from './layout.ts'

export interface Around {
  recent: HotelCard[]
  covers: Map<string, Photo>
  views: Map<string, number>
  /** Why part of the page is missing (a store that is not there yet, or unreachable). */
  notices: string[]
}

const notices = (around: Around) => around.notices.map(notice)

export function homePage(destinations: Destination[], hotels: HotelCard[], around: Around): Html {
  return page(
    'Find your next stay',
    html`<section class="hero">
        <h1>Find your next stay</h1>
        <p>${destinations.length.toLocaleString('en')} destinations, hand-picked hotels, itineraries written by travellers.</p>
      </section>
      ${notices(around)} ${recentStrip(around.recent, around.covers)}
      <h2>Destinations</h2>
      ${
        destinations.length === 0
          ? html`<p class="muted">No destinations yet: apply release 1 (<code>flux up</code>).</p>`
          : html`<div class="grid destinations">
              ${destinations.map((destination) => destinationCard(destination, around.covers.get(`destination:${destination.slug}`)))}
            </div>`
      }
      <h2>Top hotels</h2>
      <p class="muted">The best-rated hotel of each destination.</p>
      ${hotelGrid(hotels, around.covers, around.views)}`,
  )
}

export function destinationPage(
  destination: Destination,
  hotels: HotelCard[],
  itineraries: Itinerary[],
  around: Around,
): Html {
  return page(
    destination.name,
    html`<div class="crumbs"><a href="/">Destinations</a> › ${destination.country}</div>
      <h1>${destination.name}</h1>
      <p class="muted">${destination.summary}</p>
      ${notices(around)}
      <h2>Hotels in ${destination.name}</h2>
      ${hotels.length === 0 ? html`<p class="muted">No hotels here yet.</p>` : hotelGrid(hotels, around.covers, around.views)}
      <h2>Itineraries</h2>
      ${
        itineraries.length === 0
          ? html`<p class="muted">No itineraries yet.</p>`
          : html`<ul class="itineraries">
              ${itineraries.map(
                (itinerary) =>
                  html`<li>
                    <a href="/itineraries/${itinerary._id}">${itinerary.title}</a>
                    <span class="muted">· ${itinerary.days.reduce((stops, day) => stops + day.stops.length, 0)} stops,
                      starting at ${itinerary.days[0]?.stops[0]?.title ?? '—'}</span>
                  </li>`,
              )}
            </ul>`
      }
      ${recentStrip(around.recent, around.covers)}`,
  )
}

export interface HotelView {
  hotel: Hotel
  photos: Photo[]
  rooms: Room[]
  reviews: { latest: Review[]; count: number; rating: number }
  views: number | undefined
}

export function hotelPage({ hotel, photos, rooms, reviews, views }: HotelView, around: Around): Html {
  return page(
    hotel.name,
    html`<div class="crumbs">
        <a href="/">Destinations</a> › <a href="/destinations/${hotel.destinationSlug}">${hotel.destinationName}</a>
      </div>
      <h1>${hotel.name}</h1>
      <div><span class="stars">${stars(hotel.stars)}</span> · ${hotel.destinationName}, ${hotel.country}${
        views === undefined
          ? ''
          : html` · <span class="views" data-views="${views}">viewed ${views.toLocaleString('en')} times</span>`
      }</div>
      ${notices(around)}
      ${
        photos.length === 0
          ? html`<p class="muted">No photos yet.</p>`
          : html`<div class="gallery">
              ${photos.map(
                (photo) =>
                  html`<img src="${photoUrl(photo.key)}" alt="${photo.caption ?? hotel.name}" width="${photo.width}" height="${photo.height}" />`,
              )}
            </div>`
      }
      <div class="columns">
        <div>
          <h2>About</h2>
          <p>${hotel.description}</p>
          <h2>Rooms</h2>
          ${
            rooms.length === 0
              ? html`<p class="muted">No rooms listed.</p>`
              : html`<table class="rooms">
                  <tr><th>Room</th><th>Beds</th><th>Per night</th></tr>
                  ${rooms.map((room) => html`<tr><td>${room.kind}</td><td>${room.beds}</td><td class="price">${money(room.priceCents)}</td></tr>`)}
                </table>`
          }
        </div>
        <aside>
          <h2>Reviews</h2>
          ${
            reviews.count === 0
              ? html`<p class="muted no-reviews">No reviews yet.</p>`
              : html`<p><strong>${reviews.rating.toFixed(1)}</strong> / 5 from ${reviews.count.toLocaleString('en')} ${reviews.count === 1 ? 'review' : 'reviews'}</p>
                  ${reviews.latest.map(
                    (review) => html`<div class="review">
                      <div><span class="stars">${stars(review.rating)}</span> <strong>${review.author}</strong>
                        <span class="muted">${new Date(review.createdAt).toISOString().slice(0, 10)}</span></div>
                      <div class="body">${review.body}</div>
                    </div>`,
                  )}`
          }
        </aside>
      </div>
      ${recentStrip(around.recent, around.covers)}`,
  )
}

export function itineraryPage(itinerary: Itinerary, destination: Destination | undefined): Html {
  return page(
    itinerary.title,
    html`<div class="crumbs">
        <a href="/">Destinations</a> ›
        <a href="/destinations/${itinerary.destination}">${destination?.name ?? itinerary.destination}</a> › Itinerary
      </div>
      <h1>${itinerary.title}</h1>
      <p class="muted">
        An itinerary for ${destination ? `${destination.name}, ${destination.country}` : itinerary.destination} ·
        ${itinerary.days.length} days · ${itinerary.days.reduce((stops, day) => stops + day.stops.length, 0)} stops ·
        <a href="/destinations/${itinerary.destination}">hotels nearby</a>
      </p>
      <div class="panel itinerary">
        ${itinerary.days.map(
          (day) => html`<div class="day">
            <h3>Day ${day.day}</h3>
            <ol>${day.stops.map((stop) => html`<li><strong>${stop.title}</strong>${stop.note ? html` — ${stop.note}` : ''}</li>`)}</ol>
          </div>`,
        )}
      </div>`,
  )
}

export function searchPage(query: string, cards: HotelCard[], around: Around): Html {
  return page(
    query ? `Search: ${query}` : 'Search',
    html`<h1>Search</h1>
      ${notices(around)}
      ${
        query === ''
          ? html`<p class="muted">Type a hotel or a place in the search box.</p>`
          : cards.length === 0
            ? html`<p class="muted">Nothing matches “${query}”.</p>`
            : html`<p class="muted">${cards.length} ${cards.length === 1 ? 'hotel matches' : 'hotels match'} “${query}”.</p>
                ${hotelGrid(cards, around.covers, around.views)}`
      }`,
    { query },
  )
}

export function notFoundPage(what: string): Html {
  return page(
    'Not found',
    html`<h1>Not found</h1><p class="muted">${what}</p><p><a href="/">Back to the destinations</a></p>`,
  )
}

export function errorPage(message: string): Html {
  return page('Something went wrong', html`<h1>Something went wrong</h1><p class="notice">${message}</p>`)
}
