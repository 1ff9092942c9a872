import { FluxError } from '@flux/core'
import pg from 'pg'
import { type PgSettings, scrub } from './pg-options.ts'

const REASONS: Record<string, [reason: string, hint: string]> = {
  ECONNREFUSED: ['connection refused', 'check that PostgreSQL is running and listens on that host and port'],
  ENOTFOUND: ['host not found', 'check the host name in the connection string'],
  EAI_AGAIN: ['host not found', 'check the host name in the connection string, and DNS'],
  ETIMEDOUT: ['timed out connecting', 'check that the server is reachable from here (firewall, VPN, port)'],
  '28P01': ['bad password', 'check the password in the connection string (usually from the environment)'],
  '28000': ['access refused', 'the server refused this user or address: check pg_hba.conf and the role'],
  '3D000': ['unknown database', 'create the database, or fix its name in the connection string'],
  '57P03': ['the server is starting up or shutting down', 'wait for the server to be ready, then run again'],
  '53300': ['too many connections', 'close idle connections or raise max_connections'],
  ERR_MODULE_NOT_FOUND: ['@electric-sql/pglite is not installed', 'install it: `npm install @electric-sql/pglite`'],
}

/** STORE_UNAVAILABLE saying what went wrong, with the target and never a password. */
export function unavailable(settings: PgSettings, error: unknown): FluxError {
  const { code, message, errors } = error as { code?: string; message?: string; errors?: { message?: string }[] }
  const timedOut = /timeout/i.test(message ?? '')
  const [reason, hint] =
    REASONS[code ?? ''] ??
    (timedOut ? REASONS.ETIMEDOUT! : ['cannot connect', 'check the connection string and that the server is running'])
  const detail = scrub(message || errors?.[0]?.message || String(code ?? error), settings.secrets)
  const cause = Object.assign(new Error(detail), code === undefined ? {} : { code })
  return new FluxError('STORE_UNAVAILABLE', `cannot open ${settings.description}: ${reason} (${detail})`, {
    hint,
    cause,
    details: code === undefined ? undefined : { code },
  })
}

/**
 * Whether a server query failed because its connection did (reset, cut, terminated by the
 * server, or never made), rather than because of its SQL.
 */
export function isConnectionError(error: unknown): boolean {
  if (FluxError.is(error) || !(error instanceof Error)) return false
  if (error instanceof pg.DatabaseError) return error.severity === 'FATAL' || error.severity === 'PANIC'
  const code = (error as { code?: unknown }).code
  return (typeof code === 'string' && /^E[A-Z]+$/.test(code)) || /connection|not queryable|timeout/i.test(error.message)
}

/** STORE_UNAVAILABLE for a connection that failed while flux was doing `what`. */
export function connectionLost(settings: PgSettings, what: string, error: unknown): FluxError {
  const { code, message } = error as { code?: unknown; message?: string }
  const detail = scrub(message || String(code ?? error), settings.secrets)
  return new FluxError(
    'STORE_UNAVAILABLE',
    `${settings.description}: lost the connection while trying to ${what} (${detail})`,
    {
      hint: 'check that PostgreSQL is running and reachable, then run `flux status` to see what was applied, and run again',
      cause: error,
      details: typeof code === 'string' ? { code } : undefined,
    },
  )
}
