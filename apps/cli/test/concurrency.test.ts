import { describe, expect, it } from 'vitest'
import { countingMigration, effects, finish, project, start, statusJson } from './helpers.ts'

describe('eight `flux up` started together on one fresh project', () => {
  it('apply each migration exactly once, and all exit 0', async () => {
    const names = ['001_a', '002_b', '003_c', '004_d', '005_e']
    const dir = await project(Object.fromEntries(names.map((name) => [`${name}.ts`, countingMigration(name)])))
    const results = await Promise.all(Array.from({ length: 8 }, () => finish(start(['up'], dir))))
    for (const result of results) expect(result.code, result.stderr).toBe(0)
    expect((await effects(dir)).sort()).toEqual(names)
    expect((await statusJson(dir)).map((row) => row.status)).toEqual(names.map(() => 'applied'))
    const applied = results.map((result) => (result.stdout.match(/✓ applied/g) ?? []).length)
    expect(applied.reduce((sum, count) => sum + count, 0)).toBe(5)
  })
})
