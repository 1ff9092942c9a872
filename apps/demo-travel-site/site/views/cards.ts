import { html } from 'hono/html'
import type { Destination, HotelCard } from '../data/catalog.ts'
import type { Photo } from '../data/photos.ts'
import { type Html, money, stars } from './layout.ts'

/** The URL the site serves a photo's blob at. */
export function photoUrl(key: string): string {
  return `/photos/${key.split('/').map(encodeURIComponent).join('/')}`
}

export function coverImage(photo: Photo | undefined, alt: string): Html {
  return photo
    ? html`<img src="${photoUrl(photo.key)}" alt="${photo.caption ?? alt}" width="${photo.width}" height="${photo.height}" />`
    : html`<div class="placeholder" role="img" aria-label="no photo yet"></div>`
}

export function hotelCard(card: HotelCard, cover: Photo | undefined, views?: number): Html {
  return html`<a class="card hotel-card" href="/hotels/${card.slug}" data-hotel="${card.slug}">
    ${coverImage(cover, card.name)}
    <div class="body">
      <h3>${card.name}</h3>
      <div class="stars" aria-label="${card.stars} stars">${stars(card.stars)}</div>
      <div class="muted">${card.destinationName}, ${card.country}</div>
      <div>from <span class="price">${money(card.priceFromCents)}</span> a night${
        views === undefined ? '' : html` · <span class="muted">${views.toLocaleString('en')} views</span>`
      }</div>
    </div>
  </a>`
}

export function destinationCard(destination: Destination, cover: Photo | undefined): Html {
  return html`<a class="card destination" href="/destinations/${destination.slug}" data-destination="${destination.slug}">
    ${coverImage(cover, destination.name)}
    <div class="body">
      <h3>${destination.name}</h3>
      <div class="muted">${destination.country} · ${destination.hotels.toLocaleString('en')} hotels</div>
      <p>${destination.summary}</p>
    </div>
  </a>`
}

export function hotelGrid(cards: HotelCard[], covers: Map<string, Photo>, views: Map<string, number>): Html {
  return html`<div class="grid">${cards.map((card) => hotelCard(card, covers.get(`hotel:${card.slug}`), views.get(card.slug)))}</div>`
}

/** "Recently viewed": the visitor's last hotels, newest first, from Redis. */
export function recentStrip(cards: HotelCard[], covers: Map<string, Photo>): Html | string {
  if (cards.length === 0) return ''
  return html`<section class="recent">
    <h2>Recently viewed</h2>
    <div class="strip">
      ${cards.map(
        (card) => html`<a class="card" href="/hotels/${card.slug}">
          ${coverImage(covers.get(`hotel:${card.slug}`), card.name)}
          <div class="body"><strong>${card.name}</strong><div class="muted">${card.destinationName}</div></div>
        </a>`,
      )}
    </div>
  </section>`
}
