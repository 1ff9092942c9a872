import { defineMigration } from '@flux/core'

// joins 20261207100323_move-reviews and 20261207100325_move-itineraries
export default defineMigration({
  store: 'trips',
  parents: ['20261207100323_move-reviews', '20261207100325_move-itineraries'],
  up() {},
  down() {},
})
