import { useApolloClient, useQuery } from '@apollo/client/react';
import { useCallback, useEffect, useRef, useState } from 'react';
import { useSearchParams } from 'react-router';
import {
  SchedulePageDocument,
  WeekScheduleDocument,
  type AppointmentCard_AppointmentFragment,
} from '../__generated__/graphql';
import { AppointmentDetails } from '../components/schedule/AppointmentDetails';
import { CancelAppointmentDialog } from '../components/schedule/CancelAppointmentDialog';
import { EditAppointmentDialog } from '../components/schedule/EditAppointmentDialog';
import { LiveActivity } from '../components/schedule/LiveActivity';
import { NewAppointmentDialog } from '../components/schedule/NewAppointmentDialog';
import { ScheduleGrid } from '../components/schedule/ScheduleGrid';
import { WeekAgenda } from '../components/schedule/WeekAgenda';
import { ErrorNotice, Loading } from '../components/ui/Empty';
import { errorMessage } from '../components/ui/errors';
import { useAppointmentEvents, type AppointmentEvent, type LiveAppointment } from '../hooks/useAppointmentEvents';
import { liveActivityOf, useLiveActivity } from '../hooks/useLiveActivity';
import { count } from '../lib/count';
import { addDays, formatDay, formatWeekday, localDate, today, weekStart } from '../lib/time';
import { useCurrentUser } from '../session/SessionContext';

const HIGHLIGHT_MS = 6_000;

type DialogState = { kind: 'new' } | { kind: 'edit'; id: string } | { kind: 'cancel'; id: string } | null;
type Appointment = AppointmentCard_AppointmentFragment;

/** The day's (or week's) schedule and one provider's or all: other people's changes appear live, highlighted. */
export function SchedulePage() {
  const { tenant } = useCurrentUser();
  const tz = tenant.timeZone;
  const [params, setParams] = useSearchParams();
  const now = today(tz);
  const date = params.get('date') ?? now;
  const view = params.get('view') === 'week' ? 'week' : 'day';
  const providerFilter = params.get('provider') ?? '';
  const go = (change: { date?: string; view?: 'day' | 'week'; provider?: string }) => {
    const next = { date, view, provider: providerFilter, ...change };
    setParams({
      ...(next.date !== now ? { date: next.date } : {}),
      ...(next.view === 'week' ? { view: 'week' } : {}),
      ...(next.provider ? { provider: next.provider } : {}),
    });
  };
  const step = view === 'week' ? 7 : 1;

  const dayQuery = useQuery(SchedulePageDocument, {
    variables: { date },
    fetchPolicy: 'cache-and-network',
    skip: view !== 'day',
  });
  const monday = weekStart(date);
  const weekDates = Array.from({ length: 7 }, (_, i) => addDays(monday, i));
  const weekQuery = useQuery(WeekScheduleDocument, {
    variables: {
      d0: weekDates[0],
      d1: weekDates[1],
      d2: weekDates[2],
      d3: weekDates[3],
      d4: weekDates[4],
      d5: weekDates[5],
      d6: weekDates[6],
    },
    fetchPolicy: 'cache-and-network',
    skip: view !== 'week',
  });
  const { data: dayData } = dayQuery;
  const { data: weekData } = weekQuery;
  const { loading, error } = view === 'day' ? dayQuery : weekQuery;
  const hasData = view === 'day' ? !!dayData : !!weekData;

  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [dialog, setDialog] = useState<DialogState>(null);
  const [highlighted, setHighlighted] = useState<ReadonlySet<string>>(new Set());
  const activity = useLiveActivity();

  // A change stays highlighted for HIGHLIGHT_MS; its timer goes with the page, never firing into one that is gone.
  const highlightTimers = useRef(new Set<ReturnType<typeof setTimeout>>());
  useEffect(() => {
    const timers = highlightTimers.current;
    return () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    };
  }, []);
  const highlight = useCallback((id: string) => {
    setHighlighted((s) => new Set(s).add(id));
    const timers = highlightTimers.current;
    const timer = setTimeout(() => {
      timers.delete(timer);
      setHighlighted((s) => {
        const next = new Set(s);
        next.delete(id);
        return next;
      });
    }, HIGHLIGHT_MS);
    timers.add(timer);
  }, []);
  const client = useApolloClient();
  const onChange = (appointment: LiveAppointment, event: AppointmentEvent) => {
    // The app shell records every change too; the same event (by cursor) is listed once.
    liveActivityOf(client).record(event);
    const day = localDate(appointment.startsAt, tz);
    if (view === 'day' ? day === date : weekDates.includes(day)) highlight(appointment.id);
  };
  useAppointmentEvents({ onCreated: onChange, onUpdated: onChange, onCancelled: onChange, onCheckIn: onChange });

  // A new day (or week) starts with nothing selected.
  const [selectionKey, setSelectionKey] = useState(`${view}:${date}`);
  if (selectionKey !== `${view}:${date}`) {
    setSelectionKey(`${view}:${date}`);
    setSelectedId(null);
  }

  const providers = (view === 'day' ? dayData?.providers : weekData?.providers) ?? [];
  const shownProviders = providerFilter ? providers.filter((p) => p.id === providerFilter) : providers;
  const mine = (list: readonly Appointment[] | undefined) =>
    (list ?? []).filter((a) => !providerFilter || a.provider.id === providerFilter);
  const appointments = mine(dayData?.schedule);
  const days = (() => {
    const lists = weekData
      ? [weekData.d0, weekData.d1, weekData.d2, weekData.d3, weekData.d4, weekData.d5, weekData.d6]
      : [];
    return weekDates.map((d, i) => ({ date: d, label: formatWeekday(d), appointments: mine(lists[i]) }));
  })();
  const visible = view === 'day' ? appointments : days.flatMap((d) => d.appointments);
  const selected = visible.find((a) => a.id === selectedId) ?? null;
  const dialogAppointment = dialog && dialog.kind !== 'new' ? visible.find((a) => a.id === dialog.id) : undefined;
  const counts = {
    total: visible.filter((a) => a.status !== 'CANCELLED').length,
    arrived: visible.filter((a) => a.status === 'CHECKED_IN' || a.status === 'IN_PROGRESS').length,
    cancelled: visible.filter((a) => a.status === 'CANCELLED').length,
  };

  return (
    <div className="page page-schedule">
      <header className="page-header">
        <div>
          <h1>Schedule</h1>
          <p className="page-sub">
            {view === 'week' ? `Week of ${formatDay(monday)}` : formatDay(date)}
            {hasData &&
              ` · ${count(counts.total, 'appointment')} · ${counts.arrived} arrived${counts.cancelled ? ` · ${counts.cancelled} cancelled` : ''}`}
          </p>
        </div>
        <div className="toolbar schedule-toolbar">
          <div className="segmented" role="group" aria-label={view === 'week' ? 'Week' : 'Day'}>
            <button
              type="button"
              className="button"
              aria-label={view === 'week' ? 'Previous week' : 'Previous day'}
              onClick={() => go({ date: addDays(date, -step) })}
            >
              ‹
            </button>
            <button type="button" className="button" onClick={() => go({ date: now })} disabled={date === now}>
              Today
            </button>
            <button
              type="button"
              className="button"
              aria-label={view === 'week' ? 'Next week' : 'Next day'}
              onClick={() => go({ date: addDays(date, step) })}
            >
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
            onChange={(e) => e.target.value && go({ date: e.target.value })}
          />
          <div className="segmented" role="group" aria-label="View">
            <button type="button" className="button" aria-pressed={view === 'day'} onClick={() => go({ view: 'day' })}>
              Day
            </button>
            <button
              type="button"
              className="button"
              aria-pressed={view === 'week'}
              onClick={() => go({ view: 'week' })}
            >
              Week
            </button>
          </div>
          <label className="visually-hidden" htmlFor="schedule-provider">
            Provider
          </label>
          <select
            id="schedule-provider"
            className="date-input"
            value={providerFilter}
            onChange={(e) => go({ provider: e.target.value })}
          >
            <option value="">All providers</option>
            {providers.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
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
        <div className="schedule-scroll" aria-busy={loading && !hasData}>
          {loading && !hasData ? (
            <Loading label="Loading the schedule…" />
          ) : !hasData ? null : view === 'day' ? (
            <ScheduleGrid
              date={date}
              timeZone={tz}
              providers={shownProviders}
              appointments={appointments}
              selectedId={selectedId}
              highlighted={highlighted}
              onSelect={setSelectedId}
            />
          ) : (
            <WeekAgenda
              days={days}
              timeZone={tz}
              today={now}
              selectedId={selectedId}
              highlighted={highlighted}
              onSelect={setSelectedId}
            />
          )}
        </div>
        <aside className="schedule-rail" aria-label="Appointment details and live activity">
          {selected && (
            <AppointmentDetails
              appointment={selected}
              onEdit={() => setDialog({ kind: 'edit', id: selected.id })}
              onCancel={() => setDialog({ kind: 'cancel', id: selected.id })}
              onClose={() => setSelectedId(null)}
            />
          )}
          <LiveActivity
            items={activity}
            timeZone={tz}
            date={date}
            onSelect={(item) => {
              const day = localDate(item.startsAt, tz);
              if (view === 'day' ? day !== date : !weekDates.includes(day)) go({ date: day });
              setSelectedId(item.appointmentId);
            }}
          />
        </aside>
      </div>

      {dialog?.kind === 'new' && (
        <NewAppointmentDialog
          date={date}
          providers={providers}
          providerId={providerFilter || undefined}
          onClose={() => setDialog(null)}
          onBooked={setSelectedId}
        />
      )}
      {dialog?.kind === 'edit' && dialogAppointment && (
        <EditAppointmentDialog appointment={dialogAppointment} providers={providers} onClose={() => setDialog(null)} />
      )}
      {dialog?.kind === 'cancel' && dialogAppointment && (
        <CancelAppointmentDialog appointment={dialogAppointment} onClose={() => setDialog(null)} />
      )}
    </div>
  );
}
