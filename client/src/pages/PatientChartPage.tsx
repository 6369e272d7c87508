import { useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { useNavigate, useParams } from 'react-router';
import { PatientChartDocument, StaffPickerDocument } from '../__generated__/graphql';
import { NewThreadDialog } from '../components/messages/NewThreadDialog';
import { ViewersBanner } from '../components/patients/ViewersBanner';
import { StatusPill } from '../components/schedule/AppointmentCard';
import { AssignTaskDialog } from '../components/tasks/AssignTaskDialog';
import { CAN_SEND_ALERTS, SendAlertDialog } from '../components/notifications/SendAlertDialog';
import { CAN_EDIT_PATIENTS, PatientDialog } from '../components/patients/PatientDialog';
import { useToasts } from '../components/notifications/Toasts';
import { Empty, ErrorNotice, Loading } from '../components/ui/Empty';
import { errorMessage } from '../components/ui/errors';
import { usePatientViewing } from '../hooks/usePatientViewing';
import { ageOn, formatDate, formatTime, localDate, today } from '../lib/time';
import { useCurrentUser } from '../session/SessionContext';

const DAY = 86_400_000;

export function PatientChartPage() {
  const { patientId = '' } = useParams();
  const me = useCurrentUser();
  const tz = me.tenant.timeZone;
  const navigate = useNavigate();
  const toasts = useToasts();
  // Six months either side of today (the API allows a year), fixed for the page's life so the variables stay put.
  const [range] = useState(() => {
    const now = Date.now();
    return { from: new Date(now - 182 * DAY).toISOString(), to: new Date(now + 182 * DAY).toISOString() };
  });
  const { data, loading, error } = useQuery(PatientChartDocument, {
    variables: { id: patientId, ...range },
    fetchPolicy: 'cache-and-network',
  });
  const staff = useQuery(StaffPickerDocument).data?.staff ?? [];
  const { others } = usePatientViewing(patientId);
  const [dialog, setDialog] = useState<'message' | 'task' | 'alert' | 'edit' | null>(null);

  const patient = data?.patient;
  if (!patient) {
    return (
      <div className="page">
        {error ? (
          <ErrorNotice>{errorMessage(error)}</ErrorNotice>
        ) : loading ? (
          <Loading label="Opening the chart…" />
        ) : (
          <Empty title="No such patient">The patient may not exist in this clinic.</Empty>
        )}
      </div>
    );
  }

  const now = today(tz);
  const upcoming = patient.appointments.filter((a) => localDate(a.startsAt, tz) >= now);
  const past = patient.appointments.filter((a) => localDate(a.startsAt, tz) < now).reverse();
  const visit = (a: (typeof patient.appointments)[number]) => (
    <li key={a.id} className="visit">
      <div>
        <p className="visit-when">
          {formatDate(localDate(a.startsAt, tz))} · {formatTime(a.startsAt, tz)}
        </p>
        <p className="visit-what">
          {a.reason ?? 'Visit'} with {a.provider.name}
          {a.room ? ` · ${a.room}` : ''}
        </p>
      </div>
      <StatusPill status={a.status} />
    </li>
  );

  return (
    <div className="page">
      <ViewersBanner others={others} />
      <header className="page-header chart-header">
        <div>
          <h1>{patient.displayName}</h1>
          <p className="page-sub">
            <span className="mono">{patient.mrn}</span> · born {formatDate(patient.dateOfBirth)} (
            {ageOn(patient.dateOfBirth, now)} years)
          </p>
        </div>
        <div className="toolbar">
          {CAN_EDIT_PATIENTS.includes(me.role) && (
            <button type="button" className="button" onClick={() => setDialog('edit')}>
              Edit details
            </button>
          )}
          {CAN_SEND_ALERTS.includes(me.role) && (
            <button type="button" className="button" onClick={() => setDialog('alert')}>
              Send an alert
            </button>
          )}
          <button type="button" className="button" onClick={() => setDialog('message')}>
            Message about patient
          </button>
          <button
            type="button"
            className="button button-primary"
            onClick={() => setDialog('task')}
            disabled={!staff.length}
          >
            Assign a task
          </button>
        </div>
      </header>
      <div className="chart-grid">
        <section className="panel" aria-labelledby="contact-heading">
          <header className="panel-header">
            <h2 id="contact-heading">Contact</h2>
          </header>
          <dl className="details-list">
            <dt>First name</dt>
            <dd>{patient.firstName}</dd>
            <dt>Last name</dt>
            <dd>{patient.lastName}</dd>
            <dt>Phone</dt>
            <dd>{patient.phone ?? '—'}</dd>
            <dt>Email</dt>
            <dd>{patient.email ?? '—'}</dd>
          </dl>
        </section>
        <section className="panel" aria-labelledby="upcoming-heading">
          <header className="panel-header">
            <h2 id="upcoming-heading">Upcoming visits</h2>
          </header>
          {upcoming.length ? (
            <ul className="visit-list">{upcoming.map(visit)}</ul>
          ) : (
            <p className="panel-muted">None booked.</p>
          )}
        </section>
        <section className="panel" aria-labelledby="past-heading">
          <header className="panel-header">
            <h2 id="past-heading">Past visits</h2>
          </header>
          {past.length ? (
            <ul className="visit-list">{past.map(visit)}</ul>
          ) : (
            <p className="panel-muted">No earlier visits.</p>
          )}
        </section>
      </div>
      {dialog === 'edit' && (
        <PatientDialog patient={patient} onClose={() => setDialog(null)} onSaved={() => setDialog(null)} />
      )}
      {dialog === 'alert' && (
        <SendAlertDialog
          patient={patient}
          onClose={() => setDialog(null)}
          onSent={() => {
            setDialog(null);
            toasts.push({ id: `sent-${Date.now()}`, title: 'Alert sent', priority: 'LOW' });
          }}
        />
      )}
      {dialog === 'message' && (
        <NewThreadDialog
          patient={patient}
          onClose={() => setDialog(null)}
          onCreated={(id) => navigate(`/messages/${id}`)}
        />
      )}
      {dialog === 'task' && (
        <AssignTaskDialog
          staff={staff}
          patient={patient}
          onClose={() => setDialog(null)}
          onAssigned={() => {
            setDialog(null);
            toasts.push({ id: `assigned-${Date.now()}`, title: 'Task assigned', priority: 'LOW' });
          }}
        />
      )}
    </div>
  );
}
