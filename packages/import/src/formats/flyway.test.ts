import { describe, expect, it } from 'vitest'
import { flywayChecksum } from './flyway.ts'

// values from zlib's CRC32 over the lines' bytes, as Flyway's ChecksumCalculator sums them
describe("Flyway's checksum", () => {
  it('is the CRC32 of the lines without their line breaks, as a signed int', () => {
    expect(flywayChecksum('create table hotel (id int primary key);\n')).toBe(1218774187)
    expect(flywayChecksum('create table hotel (id int primary key);')).toBe(1218774187)
    expect(flywayChecksum('create table hotel (\r\n  id int primary key,\r\n  name text\r\n);\r\n')).toBe(802105544)
    expect(flywayChecksum('create table hotel (\n  id int primary key,\n  name text\n);\n')).toBe(802105544)
    expect(flywayChecksum('select 1;\n')).toBe(-690524359)
  })

  it('ignores a byte order mark', () => {
    expect(flywayChecksum('\uFEFFcreate table hotel (id int primary key);\n')).toBe(1218774187)
  })
})
