import { useQuery } from '@apollo/client/react';
import { useCallback, useMemo, useState } from 'react';
import { useSearchParams } from 'react-router';
import { SchedulePageDocument } from '../__generated__/graphql';
import { AppointmentDetails } from '../components/schedule/AppointmentDetails';
import { CancelAppointmentDialog } from '../components/schedule/CancelAppointmentDialog';
import { LiveActivity, type Activity } from '../components/schedule/LiveActivity';
import { NewAppointmentDialog } from '../components/schedule/NewAppointmentDialog';
import { RescheduleDialog } from '../components/schedule/RescheduleDialog';
import { ScheduleGrid } from '../components/schedule/ScheduleGrid';
import { ErrorNotice, Loading } from '../components/ui/Empty';
import { errorMessage } from '../components/ui/errors';
import { useAppointmentEvents, type AppointmentEvent, type LiveAppointment } from '../hooks/useAppointmentEvents';
import { addDays, formatDay, formatTime, localDate, today } from '../lib/time';
import { useCurrentUser } from '../session/SessionContext';

const HIGHLIGHT_MS = 6_000;

type DialogState = { kind: 'new' } | { kind: 'reschedule'; id: string } | { kind: 'cancel'; id: string } | null;

/** The day's schedule: changes by colleagues appear live, highlighted, and listed under "Live activity". */
export function SchedulePage() {
  const { tenant } = useCurrentUser();
  const tz = tenant.timeZone;
  const [params, setParams] = useSearchParams();
  const date = params.get('date') ?? today(tz);
  const setDate = (next: string) => setParams(next === today(tz) ? {} : { date: next });

  const { data, loading, error } = useQuery(SchedulePageDocument, {
    variables: { date },
    fetchPolicy: 'cache-and-network',
  });
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [dialog, setDialog] = useState<DialogState>(null);
  const [activity, setActivity] = useState<Activity[]>([]);
  const [highlighted, setHighlighted] = useState<ReadonlySet<string>>(new Set());

  const highlight = useCallback((id: string) => {
    setHighlighted((s) => new Set(s).add(id));
    setTimeout(
      () =>
        setHighlighted((s) => {
          const next = new Set(s);
          next.delete(id);
          return next;
        }),
      HIGHLIGHT_MS,
    );
  }, []);

  const record = (appointment: LiveAppointment, event: AppointmentEvent) => {
    const who = `${appointment.patient.displayName} with ${appointment.provider.name}`;
    const when = `${formatTime(appointment.startsAt, tz)}${localDate(appointment.startsAt, tz) !== date ? ` on ${localDate(appointment.startsAt, tz)}` : ''}`;
    const text =
      event.kind === 'CHECKED_IN'
        ? `${appointment.patient.displayName} arrived for ${formatTime(appointment.startsAt, tz)}`
        : `${who}, ${when}`;
    setActivity((list) =>
      [
        { key: event.cursor, appointmentId: appointment.id, text, kind: event.kind, at: event.occurredAt },
        ...list.filter((a) => a.key !== event.cursor),
      ].slice(0, 30),
    );
    if (localDate(appointment.startsAt, tz) === date) highlight(appointment.id);
  };
  useAppointmentEvents({ onCreated: record, onUpdated: record, onCancelled: record, onCheckIn: record });

  // A new day starts with nothing selected.
  const [selectionDate, setSelectionDate] = useState(date);
  if (selectionDate !== date) {
    setSelectionDate(date);
    setSelectedId(null);
  }

  const appointments = useMemo(() => data?.schedule ?? [], [data]);
  const providers = data?.providers ?? [];
  const selected = appointments.find((a) => a.id === selectedId) ?? null;
  const dialogAppointment = dialog && dialog.kind !== 'new' ? appointments.find((a) => a.id === dialog.id) : undefined;
  const counts = useMemo(
    () => ({
      total: appointments.filter((a) => a.status !== 'CANCELLED').length,
      arrived: appointments.filter((a) => a.status === 'CHECKED_IN' || a.status === 'IN_PROGRESS').length,
      cancelled: appointments.filter((a) => a.status === 'CANCELLED').length,
    }),
    [appointments],
  );

  return (
    <div className="page page-schedule">
      <header className="page-header">
        <div>
          <h1>Schedule</h1>
          <p className="page-sub">
            {formatDay(date)}
            {data &&
              ` · ${counts.total} appointments · ${counts.arrived} arrived${counts.cancelled ? ` · ${counts.cancelled} cancelled` : ''}`}
          </p>
        </div>
        <div className="toolbar">
          <div className="segmented" role="group" aria-label="Day">
            <button
              type="button"
              className="button"
              aria-label="Previous day"
              onClick={() => setDate(addDays(date, -1))}
            >
              ‹
            </button>
            <button type="button" className="button" onClick={() => setDate(today(tz))} disabled={date === today(tz)}>
              Today
            </button>
            <button type="button" className="button" aria-label="Next day" onClick={() => setDate(addDays(date, 1))}>
              ›
            </button>
          </div>
          <label className="visually-hidden" htmlFor="schedule-date">
            Date
          </label>
          <input
            id="schedule-date"
            className="date-input"
            type="date"
            value={date}
            onChange={(e) => e.target.value && setDate(e.target.value)}
          />
          <button
            type="button"
            className="button button-primary"
            onClick={() => setDialog({ kind: 'new' })}
            disabled={!providers.length}
          >
            New appointment
          </button>
        </div>
      </header>

      {error && <ErrorNotice>{errorMessage(error)}</ErrorNotice>}
      <div className="schedule-layout">
        <div className="schedule-scroll" aria-busy={loading && !data}>
          {loading && !data ? (
            <Loading label="Loading the schedule…" />
          ) : (
            <ScheduleGrid
              date={date}
              timeZone={tz}
              providers={providers}
              appointments={appointments}
              selectedId={selectedId}
              highlighted={highlighted}
              onSelect={setSelectedId}
            />
          )}
        </div>
        <aside className="schedule-rail">
          {selected && (
            <AppointmentDetails
              appointment={selected}
              onReschedule={() => setDialog({ kind: 'reschedule', id: selected.id })}
              onCancel={() => setDialog({ kind: 'cancel', id: selected.id })}
              onClose={() => setSelectedId(null)}
            />
          )}
          <LiveActivity items={activity} timeZone={tz} onSelect={setSelectedId} />
        </aside>
      </div>

      {dialog?.kind === 'new' && (
        <NewAppointmentDialog
          date={date}
          providers={providers}
          onClose={() => setDialog(null)}
          onBooked={setSelectedId}
        />
      )}
      {dialog?.kind === 'reschedule' && dialogAppointment && (
        <RescheduleDialog appointment={dialogAppointment} providers={providers} onClose={() => setDialog(null)} />
      )}
      {dialog?.kind === 'cancel' && dialogAppointment && (
        <CancelAppointmentDialog appointment={dialogAppointment} onClose={() => setDialog(null)} />
      )}
    </div>
  );
}
