// Small real pictures for the seeded photos: a sky, a sun and hills, in colours drawn from
// the photo's own seed, encoded as PNG with pngjs.
import { PNG } from 'pngjs'
import { seeded } from './random.ts'

export const PHOTO_WIDTH = 96
export const PHOTO_HEIGHT = 64

export function photoPng(seed: string, width = PHOTO_WIDTH, height = PHOTO_HEIGHT): Buffer {
  const random = seeded(seed)
  const png = new PNG({ width, height })
  const sky = [random.int(90, 200), random.int(140, 220), random.int(200, 255)] as const
  const land = [random.int(40, 140), random.int(90, 170), random.int(30, 90)] as const
  const sun = { x: random.int(10, width - 10), y: random.int(6, height / 3), r: random.int(4, 9) }
  const phase = random.next() * Math.PI * 2
  const amplitude = random.int(3, 10)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const horizon = height * 0.6 + Math.sin(x / 11 + phase) * amplitude
      const inSun = (x - sun.x) ** 2 + (y - sun.y) ** 2 <= sun.r ** 2
      const shade = y / height
      const color = inSun
        ? [255, 215, 90]
        : y > horizon
          ? land.map((channel) => channel * (1.1 - shade * 0.4))
          : sky.map((channel) => channel * (0.8 + shade * 0.3))
      const offset = (y * width + x) * 4
      png.data[offset] = Math.min(255, color[0]!)
      png.data[offset + 1] = Math.min(255, color[1]!)
      png.data[offset + 2] = Math.min(255, color[2]!)
      png.data[offset + 3] = 255
    }
  }
  return PNG.sync.write(png, { filterType: 1, deflateLevel: 3 })
}
