// The world of the seeded travel site: real cities with a well-known quarter each (the
// first hotel of a city is named after it, e.g. kyoto-gion), and words for the rest.

export interface Place {
  slug: string
  name: string
  country: string
  quarter: string
}

const CITIES: [string, string, string][] = [
  ['Kyoto', 'Japan', 'Gion'],
  ['Lisbon', 'Portugal', 'Alfama'],
  ['Oaxaca', 'Mexico', 'Centro'],
  ['Marrakesh', 'Morocco', 'Medina'],
  ['Istanbul', 'Türkiye', 'Galata'],
  ['Hanoi', 'Vietnam', 'Hoan Kiem'],
  ['Cusco', 'Peru', 'San Blas'],
  ['Tbilisi', 'Georgia', 'Sololaki'],
  ['Seville', 'Spain', 'Triana'],
  ['Naples', 'Italy', 'Chiaia'],
  ['Porto', 'Portugal', 'Ribeira'],
  ['Edinburgh', 'United Kingdom', 'Old Town'],
  ['Copenhagen', 'Denmark', 'Nyhavn'],
  ['Tallinn', 'Estonia', 'Kalamaja'],
  ['Krakow', 'Poland', 'Kazimierz'],
  ['Budapest', 'Hungary', 'Buda'],
  ['Valletta', 'Malta', 'Strait Street'],
  ['Athens', 'Greece', 'Plaka'],
  ['Cape Town', 'South Africa', 'Bo-Kaap'],
  ['Zanzibar', 'Tanzania', 'Stone Town'],
  ['Luang Prabang', 'Laos', 'Ban Xieng Mouane'],
  ['Chiang Mai', 'Thailand', 'Nimman'],
  ['Hoi An', 'Vietnam', 'An Hoi'],
  ['Jaipur', 'India', 'Pink City'],
  ['Kathmandu', 'Nepal', 'Thamel'],
  ['Seoul', 'South Korea', 'Bukchon'],
  ['Taipei', 'Taiwan', 'Dadaocheng'],
  ['Melbourne', 'Australia', 'Fitzroy'],
  ['Wellington', 'New Zealand', 'Te Aro'],
  ['Quebec City', 'Canada', 'Petit Champlain'],
  ['New Orleans', 'United States', 'Marigny'],
  ['Havana', 'Cuba', 'Vedado'],
  ['Cartagena', 'Colombia', 'Getsemani'],
  ['Valparaiso', 'Chile', 'Cerro Alegre'],
  ['Buenos Aires', 'Argentina', 'San Telmo'],
  ['Salvador', 'Brazil', 'Pelourinho'],
  ['Reykjavik', 'Iceland', 'Grandi'],
  ['Bergen', 'Norway', 'Bryggen'],
  ['Ljubljana', 'Slovenia', 'Trnovo'],
  ['Dubrovnik', 'Croatia', 'Ploce'],
  ['Granada', 'Spain', 'Albaicin'],
  ['Bruges', 'Belgium', 'Sint-Anna'],
  ['Amsterdam', 'Netherlands', 'Jordaan'],
  ['Vienna', 'Austria', 'Spittelberg'],
  ['Prague', 'Czechia', 'Mala Strana'],
  ['Palermo', 'Italy', 'Kalsa'],
  ['Essaouira', 'Morocco', 'Kasbah'],
  ['Yogyakarta', 'Indonesia', 'Prawirotaman'],
]

export function slugOf(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
}

export function destinations(count: number): Place[] {
  return CITIES.slice(0, count).map(([name, country, quarter]) => ({ slug: slugOf(name), name, country, quarter }))
}

export const HOTEL_WORDS = {
  first: [
    'Quiet',
    'Old',
    'Blue',
    'Golden',
    'Little',
    'Hidden',
    'Garden',
    'River',
    'Harbour',
    'Hill',
    'Lantern',
    'Cedar',
    'Salt',
    'Stone',
    'Willow',
    'Copper',
    'Amber',
    'Linen',
    'Olive',
    'Fig',
  ],
  second: ['House', 'Inn', 'Lodge', 'Rooms', 'Residence', 'Guesthouse', 'Suites', 'Courtyard', 'Terrace', 'Hotel'],
  adjectives: ['sunny', 'calm', 'bright', 'cosy', 'airy', 'friendly', 'elegant', 'simple', 'charming', 'spacious'],
  features: [
    'a roof terrace',
    'a garden breakfast',
    'bicycles to borrow',
    'a small library',
    'views over the old town',
    'a tea room',
    'a courtyard pool',
    'a late checkout',
  ],
  rooms: ['single', 'double', 'twin', 'family', 'suite'],
  stops: [
    'Morning market',
    'Old harbour walk',
    'Museum of the city',
    'Tea at the corner café',
    'Sunset viewpoint',
    'Cooking class',
    'Botanical garden',
    'Night food stalls',
    'Cathedral and cloister',
    'River boat',
    'Craft quarter',
    'Hill temple',
  ],
  notes: [
    'go early, it gets busy',
    'bring cash',
    'closed on Mondays',
    'book a day ahead',
    'wear good shoes',
    'try the local pastry',
    'the guide speaks English',
    'best light after five',
  ],
  authors: [
    'Ana',
    'Ben',
    'Chloé',
    'Dev',
    'Emi',
    'Farid',
    'Greta',
    'Hiro',
    'Ines',
    'Jonas',
    'Kemal',
    'Lena',
    'Mateo',
    'Nadia',
    'Olu',
    'Priya',
    'Quinn',
    'Rosa',
    'Sami',
    'Tomás',
  ],
  verdicts: [
    'Lovely stay',
    'Would come back',
    'Great location',
    'Quiet and clean',
    'Friendly staff',
    'Small but perfect',
    'Noisy street',
    'Breakfast was the highlight',
  ],
}
