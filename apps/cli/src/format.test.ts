import { describe, expect, it } from 'vitest'
import {
  createRateMeter,
  etaOf,
  formatCount,
  formatEta,
  formatProgress,
  formatRate,
  percentOf,
  progressBar,
  progressLineDue,
} from './format.ts'

describe('progress figures', () => {
  it('says count, total, percentage, rate and eta as a progress line', () => {
    expect(formatProgress({ done: 40_000, total: 100_000, rate: 8_100 })).toBe('40,000/100,000 (40%) 8,100/s, eta 8s')
    expect(formatProgress({ done: 40_000, total: 100_000, rate: undefined })).toBe('40,000/100,000 (40%)')
    expect(formatProgress({ done: 100_000, total: 100_000, rate: 8_100 })).toBe('100,000/100,000 (100%) 8,100/s')
    expect(formatProgress({ done: 3, total: 7, rate: 0 })).toBe('3/7 (42%) 0/s')
  })

  it('rounds the percentage down, and never past 100', () => {
    expect(percentOf({ done: 999, total: 1_000 })).toBe(99)
    expect(percentOf({ done: 1_500, total: 1_000 })).toBe(100)
    expect(percentOf({ done: 0, total: 0 })).toBe(0)
  })

  it('gives the eta from what is left at the rate, none while the rate is unknown', () => {
    expect(etaOf({ done: 40_000, total: 100_000, rate: 8_000 })).toBe(7.5)
    expect(etaOf({ done: 40_000, total: 100_000, rate: undefined })).toBeUndefined()
    expect(etaOf({ done: 40_000, total: 100_000, rate: 0 })).toBeUndefined()
    expect(formatEta(7.5)).toBe('8s')
    expect(formatEta(125)).toBe('2m05s')
    expect(formatEta(3_725)).toBe('1h02m')
  })

  it('writes rates with the digits that matter', () => {
    expect(formatRate(8_123.4)).toBe('8,123/s')
    expect([0, 7, 999, 1_000, 12_345.6, 1_234_567, 10_000_000].map(formatCount)).toEqual([
      '0',
      '7',
      '999',
      '1,000',
      '12,346',
      '1,234,567',
      '10,000,000',
    ])
    expect(formatRate(42.4)).toBe('42/s')
    expect(formatRate(2.54)).toBe('2.5/s')
    expect(formatRate(0.254)).toBe('0.25/s')
  })

  it('draws a bar 20 cells wide by default', () => {
    expect(progressBar({ done: 40, total: 100 })).toBe(`${'█'.repeat(8)}${'░'.repeat(12)}`)
    expect(progressBar({ done: 1, total: 1 }, 4)).toBe('████')
  })
})

describe('createRateMeter', () => {
  it('measures the rate over the recent past once it has seen half a second', () => {
    const meter = createRateMeter()
    meter.sample(0, 0)
    meter.sample(1_000, 250)
    expect(meter.rate(250)).toBeUndefined()
    for (let at = 500; at <= 20_000; at += 500) meter.sample(at * 4, at) // 4,000/s
    expect(meter.rate(20_000)).toBeCloseTo(4_000, 0)
    // it slows to 1,000/s: ten seconds later the rate says so
    for (let at = 20_500; at <= 30_000; at += 500) meter.sample(80_000 + (at - 20_000), at)
    expect(meter.rate(30_000)).toBeCloseTo(1_000, -1)
  })

  it('starts over when the count goes back', () => {
    const meter = createRateMeter()
    meter.sample(5_000, 0)
    meter.sample(6_000, 1_000)
    meter.sample(0, 1_100)
    expect(meter.rate(1_100)).toBeUndefined()
  })
})

describe('progressLineDue', () => {
  const total = 100_000
  it('prints every 10% (at most once a second), every 5 s, and the end once', () => {
    const start = { at: 0, done: 0 }
    expect(progressLineDue(start, { done: 9_000, total }, 3_000)).toBe(false)
    expect(progressLineDue(start, { done: 10_000, total }, 500)).toBe(false)
    expect(progressLineDue(start, { done: 10_000, total }, 1_000)).toBe(true)
    expect(progressLineDue(start, { done: 1, total }, 5_000)).toBe(true)
    expect(progressLineDue({ at: 4_900, done: 90_000 }, { done: total, total }, 5_000)).toBe(true)
    expect(progressLineDue({ at: 5_000, done: total }, { done: total, total }, 9_000)).toBe(false)
  })
})
