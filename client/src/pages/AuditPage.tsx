import { useQuery } from '@apollo/client/react';
import { useEffect, useState, type FormEvent } from 'react';
import { AuditPageDocument, AuditPatientSearchDocument, StaffPickerDocument } from '../__generated__/graphql';
import { Empty, ErrorNotice, Loading } from '../components/ui/Empty';
import { errorMessage } from '../components/ui/errors';
import { Field } from '../components/ui/Field';
import { addDays, formatDate, formatTime, localDate, today } from '../lib/time';
import { useSession } from '../session/SessionContext';
import { NotFoundPage } from './NotFoundPage';

const TRANSPORT = { HTTP: 'HTTP', WEBSOCKET: 'WebSocket', SSE: 'SSE' } as const;
const ACTION = { VIEW: 'Viewed', CREATE: 'Registered', UPDATE: 'Changed' } as const;

interface Filter {
  patient: { id: string; label: string } | null;
  userId: string;
  from: string;
  to: string;
}

/** The CSV of a search, fetched with the session's token (a plain link would carry none) and saved as a file. */
async function downloadCsv(httpUrl: string, token: string, filter: Filter): Promise<void> {
  const params = new URLSearchParams();
  if (filter.patient) params.set('patientId', filter.patient.id);
  if (filter.userId) params.set('userId', filter.userId);
  if (filter.from) params.set('from', filter.from);
  if (filter.to) params.set('to', filter.to);
  const res = await fetch(`${httpUrl.replace(/\/graphql$/, '')}/audit/patient-access.csv?${params}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { errors?: { message: string }[] } | null;
    throw new Error(body?.errors?.[0]?.message ?? `The export failed (${res.status})`);
  }
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'patient-access.csv';
  const url = URL.createObjectURL(await res.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  URL.revokeObjectURL(url);
}

/** Picks one patient by name or MRN (searching is a read of the matches, and audited as such). */
function PatientFilter({ value, onChange }: { value: Filter['patient']; onChange(p: Filter['patient']): void }) {
  const [search, setSearch] = useState('');
  const [debounced, setDebounced] = useState('');
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);
  const { data } = useQuery(AuditPatientSearchDocument, {
    variables: { search: debounced },
    skip: value !== null || debounced.length < 2,
  });
  if (value) {
    return (
      <div className="field">
        <span className="field-label">Patient</span>
        <p>
          {value.label}{' '}
          <button type="button" className="link-button" onClick={() => onChange(null)}>
            Any patient
          </button>
        </p>
      </div>
    );
  }
  const matches = debounced.length >= 2 ? (data?.patients.edges.map((e) => e.node) ?? []) : [];
  return (
    <div className="field">
      <Field label="Patient">
        <input
          type="search"
          placeholder="Name or MRN (any patient when empty)"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
      </Field>
      {matches.length > 0 && (
        <ul className="audit-matches" aria-label="Matching patients">
          {matches.map((p) => (
            <li key={p.id}>
              <button
                type="button"
                className="link-button"
                onClick={() => {
                  onChange({ id: p.id, label: `${p.displayName} (${p.mrn})` });
                  setSearch('');
                }}
              >
                {p.displayName} <span className="mono">{p.mrn}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/**
 * The clinic's access audit, for admins (docs/architecture.md, "Access audit"): who read which patient's record,
 * when (in the clinic's time zone) and how; searched by patient, staff member and days, and exported as CSV.
 */
export function AuditPage() {
  const { session } = useSession();
  if (session.user.role !== 'ADMIN') return <NotFoundPage />;
  return <AccessLog />;
}

function AccessLog() {
  const { session } = useSession();
  const { timeZone } = session.user.tenant;
  const now = today(timeZone);
  const [draft, setDraft] = useState<Filter>({ patient: null, userId: '', from: addDays(now, -6), to: now });
  const [filter, setFilter] = useState<Filter>(draft);
  const [exportError, setExportError] = useState<string | null>(null);
  const [exporting, setExporting] = useState(false);
  const staff = useQuery(StaffPickerDocument).data?.staff ?? [];
  const { data, loading, error, fetchMore } = useQuery(AuditPageDocument, {
    variables: {
      patientId: filter.patient?.id ?? null,
      userId: filter.userId || null,
      from: filter.from || null,
      to: filter.to || null,
    },
  });
  const entries = data?.patientAccessLog.edges.map((e) => e.node) ?? [];
  const pageInfo = data?.patientAccessLog.pageInfo;

  const search = (e: FormEvent) => {
    e.preventDefault();
    setFilter(draft);
  };
  const exportCsv = async () => {
    setExporting(true);
    setExportError(null);
    try {
      await downloadCsv(session.apollo.httpUrl, session.token, filter);
    } catch (err) {
      setExportError(err instanceof Error ? err.message : String(err));
    } finally {
      setExporting(false);
    }
  };

  return (
    <div className="page">
      <header className="page-header">
        <div>
          <h1>Access audit</h1>
          <p className="page-sub">Who opened which patient's record, when and how. Times are the clinic's.</p>
        </div>
      </header>
      <form className="field-row" onSubmit={search} aria-label="Search the access audit">
        <PatientFilter value={draft.patient} onChange={(patient) => setDraft({ ...draft, patient })} />
        <Field label="Staff member">
          <select value={draft.userId} onChange={(e) => setDraft({ ...draft, userId: e.target.value })}>
            <option value="">Anyone</option>
            {staff.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </Field>
        <Field label="From">
          <input type="date" value={draft.from} onChange={(e) => setDraft({ ...draft, from: e.target.value })} />
        </Field>
        <Field label="To">
          <input type="date" value={draft.to} onChange={(e) => setDraft({ ...draft, to: e.target.value })} />
        </Field>
        <div className="toolbar">
          <button type="submit" className="button button-primary">
            Search
          </button>
          <button type="button" className="button" disabled={exporting} onClick={() => void exportCsv()}>
            {exporting ? 'Exporting…' : 'Export CSV'}
          </button>
        </div>
      </form>
      {exportError && <ErrorNotice>{exportError}</ErrorNotice>}
      {error && !data ? (
        <ErrorNotice>{errorMessage(error)}</ErrorNotice>
      ) : loading && !data ? (
        <Loading />
      ) : entries.length === 0 ? (
        <Empty title="No access matches" />
      ) : (
        <div className="table-scroll">
          <table className="table" aria-label="Access audit entries">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Patient</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Through</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <tr key={entry.id}>
                  <td>
                    {formatDate(localDate(entry.at as string, timeZone))}, {formatTime(entry.at as string, timeZone)}
                  </td>
                  <td>
                    {entry.patient.displayName} <span className="mono">{entry.patient.mrn}</span>
                  </td>
                  <td>
                    {entry.user?.name ??
                      (entry.integrationClient ? `${entry.integrationClient.name} (integration)` : '—')}
                  </td>
                  <td>{ACTION[entry.action]}</td>
                  <td>
                    {entry.transport ? TRANSPORT[entry.transport] : '—'}
                    {entry.through && <span className="mono audit-through"> {entry.through}</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {pageInfo?.hasNextPage && (
        <button
          type="button"
          className="button"
          onClick={() => void fetchMore({ variables: { after: pageInfo.endCursor } })}
        >
          Load more
        </button>
      )}
    </div>
  );
}
