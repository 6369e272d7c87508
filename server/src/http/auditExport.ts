import { randomUUID } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { GraphQLError } from 'graphql';
import { admitRequest } from '../auth/authenticate.js';
import { retryAfterOf } from '../auth/callerLimits.js';
import { can } from '../auth/roles.js';
import type { Viewer } from '../auth/tokens.js';
import { clinicTimestamp } from '../clinicTime.js';
import type { Services } from '../context.js';
import { tenantsByIds } from '../domains/identity/data.js';
import { grantOf, type PatientRead } from '../domains/patients/accessAudit.js';
import { accessLogFilter, readAccessLog, type AccessLogPosition } from '../domains/patients/accessLog.js';
import { ErrorCode } from '../errors.js';
import { createTenantLoaders } from '../loaders.js';

export const ACCESS_LOG_CSV_PATH = '/audit/patient-access.csv';
/** Entries read, named and written per round: the response streams, whatever the number of entries. */
const PAGE = 1000;
const THROUGH = `GET ${ACCESS_LOG_CSV_PATH}`;

const HEADER = [
  'time',
  'action',
  'patient_id',
  'patient_mrn',
  'patient_name',
  'reader_kind',
  'reader_id',
  'reader_name',
  'transport',
  'through',
  'request_id',
];

/**
 * One CSV field (RFC 4180): quoted when it holds a quote, a comma or a line break, quotes doubled. A field that a
 * spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return first: OWASP's CSV injection) is
 * prefixed with `'`. Written here rather than with a library: these eleven lines are the whole of it.
 */
export function csvField(value: string | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const csvLine = (fields: Array<string | null | undefined>) => `${fields.map(csvField).join(',')}\r\n`;

function refuse(res: Response, status: number, code: string, message: string, extra: Record<string, unknown> = {}) {
  res.status(status).json({ errors: [{ message, extensions: { code, ...extra } }] });
}

/**
 * `GET /audit/patient-access.csv?patientId=&userId=&integrationClientId=&from=&to=`: the clinic's access audit as CSV,
 * newest first, with the bearer token of an admin (401 without a valid token, 403 for other staff and integration
 * clients, 400 with `BAD_USER_INPUT` for a bad filter: the same checks as `patientAccessLog`). Times are the clinic's
 * wall clock with its offset. Streamed a page at a time; the names it gives are reads of those patients' records
 * and are audited like any (`through` this path), each page's before it is sent.
 */
export function accessLogExport(services: Services): Router {
  const router = express.Router();
  router.get(ACCESS_LOG_CSV_PATH, async (req: Request, res: Response) => {
    const given = req.header('x-request-id');
    const requestId = given && /^[\w.:-]{1,64}$/.test(given) ? given : randomUUID();
    res.setHeader('x-request-id', requestId);
    let viewer: Viewer | null;
    let overRate: GraphQLError | null;
    try {
      ({ viewer, overRate } = await admitRequest(services, req.header('authorization')));
    } catch (err) {
      if (!(err instanceof GraphQLError)) {
        services.log.error({ err, requestId }, 'access audit export: the token could not be checked');
        return refuse(res, 500, ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error', { requestId });
      }
      return refuse(res, 401, ErrorCode.UNAUTHENTICATED, err.message, { reason: err.extensions.reason });
    }
    if (!viewer) return refuse(res, 401, ErrorCode.UNAUTHENTICATED, 'Sign in first: send a valid bearer token');
    if (overRate) {
      res.setHeader('retry-after', retryAfterOf(overRate));
      return refuse(res, 429, ErrorCode.TOO_MANY_REQUESTS, overRate.message, overRate.extensions);
    }
    if (viewer.kind !== 'user' || !can(viewer, 'readAccessAudit')) {
      return refuse(res, 403, ErrorCode.FORBIDDEN, 'The access audit is for the clinic’s admins');
    }
    const param = (name: string) => (typeof req.query[name] === 'string' ? (req.query[name] as string) : null);
    let filter;
    try {
      for (const [name, value] of Object.entries(req.query)) {
        if (typeof value !== 'string') throw badParam(name);
      }
      filter = accessLogFilter({
        patientId: param('patientId'),
        userId: param('userId'),
        integrationClientId: param('integrationClientId'),
        from: param('from'),
        to: param('to'),
      });
    } catch (err) {
      const e = err as GraphQLError;
      return refuse(res, 400, ErrorCode.BAD_USER_INPUT, e.message, { field: e.extensions?.field });
    }

    const { tenantId } = viewer;
    let after: AccessLogPosition | null = null;
    let started = false;
    const audited = new Set<string>();
    try {
      const [tenant] = await tenantsByIds(services.db, [tenantId]);
      for (;;) {
        const rows = await readAccessLog(services.db, tenantId, tenant.timeZone, filter, PAGE, after);
        // Fresh loaders per page: nothing read for one page is kept for the whole export.
        const loaders = createTenantLoaders(services.db, tenantId);
        const patients = await loaders.patient.loadMany([...new Set(rows.map((r) => r.patientId))]);
        const users = await loaders.user.loadMany(rows.flatMap((r) => (r.userId ? [r.userId] : [])));
        const clients = await loaders.integrationClient.loadMany(
          rows.flatMap((r) => (r.integrationClientId ? [r.integrationClientId] : [])),
        );
        const named = new Map<string, string>();
        for (const row of [...users, ...clients]) if (row && !(row instanceof Error)) named.set(row.id, row.name);
        const byId = new Map(patients.flatMap((p) => (p && !(p instanceof Error) ? [[p.id, p] as const] : [])));
        // The names and MRNs of this page are read now: audited before they go out, once per patient per export.
        const now = new Date();
        const reads: PatientRead[] = [...byId.keys()]
          .filter((patientId) => !audited.has(patientId))
          .map((patientId) => ({ patientId, through: THROUGH, at: now }));
        await services.audit.write(grantOf(reads, viewer, 'HTTP', requestId));
        for (const read of reads) audited.add(read.patientId);
        if (!started) {
          started = true;
          res.status(200);
          res.setHeader('content-type', 'text/csv; charset=utf-8');
          res.setHeader(
            'content-disposition',
            `attachment; filename="patient-access-${tenant.slug}${filter.from ? `-from-${filter.from}` : ''}${filter.to ? `-to-${filter.to}` : ''}.csv"`,
          );
          res.setHeader('cache-control', 'no-store');
          res.write(csvLine(HEADER));
        }
        let chunk = '';
        for (const row of rows) {
          const patient = byId.get(row.patientId);
          const readerId = row.userId ?? row.integrationClientId;
          chunk += csvLine([
            clinicTimestamp(row.at, tenant.timeZone),
            row.action,
            row.patientId,
            patient?.mrn,
            patient ? `${patient.firstName} ${patient.lastName}` : null,
            row.userId ? 'user' : 'integration',
            readerId,
            readerId ? named.get(readerId) : null,
            row.transport,
            row.through,
            row.requestId,
          ]);
        }
        if (chunk && !res.write(chunk)) await drainedOrClosed(res);
        if (rows.length < PAGE || res.destroyed) break;
        const last = rows[rows.length - 1];
        after = [last.position, last.id];
      }
      res.end();
    } catch (err) {
      services.log.error({ err, requestId }, 'access audit export failed');
      if (!started) {
        return refuse(
          res,
          503,
          ErrorCode.SERVICE_UNAVAILABLE,
          'The access audit is unavailable for now: try again shortly',
          {
            reason: 'AUDIT_UNAVAILABLE',
          },
        );
      }
      // Half sent: cut it, so the download fails rather than looking complete.
      res.destroy();
    }
  });
  return router;
}

function badParam(name: string): GraphQLError {
  return new GraphQLError(`${name} must be given once`, { extensions: { field: name } });
}

function drainedOrClosed(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}
