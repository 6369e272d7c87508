import { screen, waitFor, within } from '@testing-library/react';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SchedulePageDocument } from '../src/__generated__/graphql';
import { useAppointmentEvents } from '../src/hooks/useAppointmentEvents';
import { useCreateAppointmentMutation } from '../src/mutations/useCreateAppointmentMutation';
import { SchedulePage } from '../src/pages/SchedulePage';
import { formatDate, zonedInstant } from '../src/lib/time';
import {
  clinicIds,
  connected,
  freshDay,
  gql,
  openSession,
  openSlowSession,
  renderWithSession,
  type TestSession,
} from './helpers';

const TZ = 'America/New_York';

const CREATE = `mutation($input: CreateAppointmentInput!) { createAppointment(input: $input) { id } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateAppointmentInput!) { updateAppointment(id: $id, input: $input) { id } }`;
const CANCEL = `mutation($id: ID!, $reason: String!) { cancelAppointment(id: $id, reason: $reason) { id } }`;

describe('Schedule cache, live', () => {
  let colleague: TestSession; // books, moves, cancels over HTTP
  let viewer: TestSession; // has the day open
  let ids: Awaited<ReturnType<typeof clinicIds>>;

  beforeAll(async () => {
    colleague = await openSession('sunrise-derm', 'nurse');
    viewer = await openSession('sunrise-derm', 'frontdesk');
    ids = await clinicIds(colleague.token);
  });
  afterAll(async () => {
    await colleague.apollo.dispose();
    await viewer.apollo.dispose();
  });

  const book = async (date: string, time: string, patient = 0, provider = 'lee') => {
    const startsAt = zonedInstant(date, time, TZ);
    const data = await gql(colleague.token, CREATE, {
      input: {
        providerId: ids.byKey(provider).id,
        patientId: ids.patients[patient].id,
        startsAt: startsAt.toISOString(),
        endsAt: new Date(startsAt.getTime() + 30 * 60_000).toISOString(),
        reason: 'Live test',
      },
    });
    return data.createAppointment.id as string;
  };
  const cachedDay = (session: TestSession, date: string) =>
    session.apollo.client.readQuery({ query: SchedulePageDocument, variables: { date } })?.schedule.map((a) => a.id) ??
    [];

  it('should keep a booking and a move that arrived while the day was loading, read before them', async () => {
    const day = freshDay();
    const nextDay = freshDay();
    const leaving = await book(day, '10:00', 3);
    // A slow network on the page's first load: the server reads the day at once, its answer is held until a booking
    // on it and the move of `leaving` to another day have come in over the socket, so the day lands without the one
    // and with the other, after both.
    const {
      session: slow,
      reads,
      release,
      markLate,
    } = await openSlowSession('sunrise-derm', 'frontdesk', 'SchedulePage');
    try {
      renderWithSession(<SchedulePage />, slow, { route: `/schedule?date=${day}` });
      await connected(slow);
      await waitFor(() => expect(slow.openSubscriptions('AppointmentChanged')).toBe(1));
      await waitFor(() => expect(reads).toHaveLength(1));

      markLate();
      const arrived = await book(day, '09:00', 1);
      const away = zonedInstant(nextDay, '10:00', TZ);
      await gql(colleague.token, UPDATE, {
        id: leaving,
        input: { startsAt: away.toISOString(), endsAt: new Date(away.getTime() + 30 * 60_000).toISOString() },
      });
      // Both events handled: only the stream has brought these appointments into this cache so far.
      const cached = (id: string) =>
        (slow.apollo.client.cache.extract() as Record<string, { startsAt?: string } | undefined>)[`Appointment:${id}`];
      await waitFor(() => expect(cached(arrived)).toBeTruthy());
      await waitFor(() => expect(cached(leaving)?.startsAt).toBe(away.toISOString()));

      release();
      await screen.findByText(/· 1 appointment ·/);
      expect(cachedDay(slow, day)).toEqual([arrived]);
      const column = screen.getByRole('list', { name: "Dr. Maya Lee's appointments" });
      expect(within(column).getAllByRole('button')).toHaveLength(1);
      expect(reads.every((read) => !read.afterMark)).toBe(true);
    } finally {
      release();
      await slow.apollo.dispose();
    }
  });
  it("should add a colleague's booking to the open day once, in start order, without a refetch", async () => {
    const day = freshDay();
    renderWithSession(<SchedulePage />, viewer, { route: `/schedule?date=${day}` });
    await connected(viewer);
    await screen.findByText(/0 appointments/);
    const httpBefore = viewer.http.length;

    const late = await book(day, '11:00', 1);
    await screen.findByText(/· 1 appointment ·/);
    const early = await book(day, '09:30', 2);

    await waitFor(() => expect(cachedDay(viewer, day)).toEqual([early, late]));
    const column = screen.getByRole('list', { name: "Dr. Maya Lee's appointments" });
    expect(
      within(column)
        .getAllByRole('button')
        .map((b) => b.getAttribute('data-appointment-id')),
    ).toEqual([early, late]);
    expect(screen.getByText(/2 appointments/)).toBeTruthy();
    // Updated in place from the events: nothing was read again over HTTP.
    expect(viewer.http.slice(httpBefore)).toEqual([]);
  });

  it('should keep a booking on another day out of the open day, and move it in and out when it is rescheduled', async () => {
    const day = freshDay();
    const other = freshDay();
    renderWithSession(<SchedulePage />, viewer, { route: `/schedule?date=${day}` });
    await connected(viewer);
    await screen.findByText(/0 appointments/);

    const id = await book(other, '10:00');
    // The event arrived (the activity feed lists it, on its own day) and the open day did not take it.
    await screen.findByText(new RegExp(`on ${formatDate(other)}`));
    expect(cachedDay(viewer, day)).toEqual([]);

    const here = zonedInstant(day, '14:00', TZ);
    await gql(colleague.token, UPDATE, {
      id,
      input: { startsAt: here.toISOString(), endsAt: new Date(here.getTime() + 30 * 60_000).toISOString() },
    });
    await waitFor(() => expect(cachedDay(viewer, day)).toEqual([id]));

    const away = zonedInstant(other, '15:00', TZ);
    await gql(colleague.token, UPDATE, {
      id,
      input: { startsAt: away.toISOString(), endsAt: new Date(away.getTime() + 30 * 60_000).toISOString() },
    });
    await waitFor(() => expect(cachedDay(viewer, day)).toEqual([]));
  });

  it('should show a cancellation in place, with its status', async () => {
    const day = freshDay();
    const id = await book(day, '10:00', 3);
    renderWithSession(<SchedulePage />, viewer, { route: `/schedule?date=${day}` });
    await connected(viewer);
    const card = await screen.findByRole('button', { name: /^10:00 – 10:30 AM .* Live test$/ });
    expect(card.getAttribute('data-appointment-id')).toBe(id);

    await gql(colleague.token, CANCEL, { id, reason: 'Patient is unwell' });
    await screen.findByRole('button', { name: /^10:00 – 10:30 AM .* Live test Cancelled$/ });
    expect(cachedDay(viewer, day)).toEqual([id]);
  });
});

describe('Our own booking', () => {
  let me: TestSession;
  beforeAll(async () => {
    me = await openSession('sunrise-derm', 'frontdesk');
  });
  afterAll(() => me.apollo.dispose());

  it("should show at once, then once: the mutation's result and its echo are the same appointment", async () => {
    const ids = await clinicIds(me.token);
    const day = freshDay();
    const echoes: string[] = [];
    let book!: () => Promise<unknown>;
    function Probe() {
      const [create] = useCreateAppointmentMutation();
      useAppointmentEvents({ onCreated: (a) => echoes.push(a.id) });
      const startsAt = zonedInstant(day, '16:00', TZ);
      const provider = ids.byKey('patel');
      const patient = ids.patients[4];
      book = () =>
        create(
          {
            providerId: provider.id,
            patientId: patient.id,
            startsAt: startsAt.toISOString(),
            endsAt: new Date(startsAt.getTime() + 1_800_000).toISOString(),
          },
          { provider: { id: provider.id, name: provider.name }, patient },
        );
      return null;
    }
    renderWithSession(
      <>
        <Probe />
        <SchedulePage />
      </>,
      me,
      { route: `/schedule?date=${day}` },
    );
    await connected(me);
    await screen.findByText(/0 appointments/);

    const result = book();
    // Optimistic: the appointment is in the day (and on screen) before the server has answered.
    expect(
      me.apollo.client
        .readQuery({ query: SchedulePageDocument, variables: { date: day }, optimistic: true })
        ?.schedule.map((a) => a.id),
    ).toEqual([expect.stringMatching(/^optimistic-/)]);
    await screen.findByRole('button', { name: /^4:00 – 4:30 PM Ava Foster/ });
    const { data } = (await result) as { data: { createAppointment: { id: string } } };
    const id = data.createAppointment.id;
    await waitFor(() => expect(echoes).toContain(id));

    expect(
      me.apollo.client.readQuery({ query: SchedulePageDocument, variables: { date: day } })?.schedule.map((a) => a.id),
    ).toEqual([id]);
    const column = screen.getByRole('list', { name: "Dr. Arjun Patel's appointments" });
    expect(
      within(column)
        .getAllByRole('button', { name: /Ava Foster/ })
        .map((b) => b.getAttribute('data-appointment-id')),
    ).toEqual([id]);
  });
});
