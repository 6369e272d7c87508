import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppRoutes } from '../src/App';
import { formatDate, today } from '../src/lib/time';
import { clinicIds, connected, gql, openSession, renderWithSession, type TestSession } from './helpers';

const TZ = 'America/New_York';

describe('Access audit page', () => {
  let admin: TestSession;
  let nurse: TestSession;
  let ids: Awaited<ReturnType<typeof clinicIds>>;

  beforeAll(async () => {
    admin = await openSession('sunrise-derm', 'admin');
    nurse = await openSession('sunrise-derm', 'nurse');
    ids = await clinicIds(admin.token);
  });
  afterAll(async () => {
    await admin.apollo.dispose();
    await nurse.apollo.dispose();
  });

  it("should show an admin a colleague's read of a patient, in the clinic's time, and filter by the colleague", async () => {
    const patient = ids.patients[2];
    const nurseName = ids.byKey('nurse').name;
    await gql(nurse.token, 'query($id: ID!) { patient(id: $id) { id displayName } }', { id: patient.id });

    renderWithSession(<AppRoutes />, admin, { route: '/audit' });
    await connected(admin);
    await screen.findByRole('heading', { name: 'Access audit' });
    expect(screen.getByRole('link', { name: 'Access audit' })).toBeTruthy();

    // The staff list arrives by its own query: the nurse must be a choice before being chosen.
    await screen.findByRole('option', { name: nurseName });
    fireEvent.change(screen.getByLabelText('Staff member'), { target: { value: ids.byKey('nurse').id } });
    fireEvent.click(screen.getByRole('button', { name: 'Search' }));
    const table = await screen.findByRole('table', { name: 'Access audit entries' });
    // Once the search is answered, every row is the nurse's, and one is this read.
    const row = await waitFor(() => {
      const rows = within(table).getAllByRole<HTMLTableRowElement>('row').slice(1);
      for (const r of rows) expect(r.textContent).toContain(nurseName);
      const found = rows.find(
        (r) => r.textContent?.includes(patient.displayName) && r.cells[4].textContent?.endsWith(' Query.patient'),
      );
      if (!found) throw new Error('no row of the read yet');
      return found;
    });
    expect(row.textContent).toContain('Viewed');
    expect(row.cells[0].textContent).toContain(formatDate(today(TZ)));
  });

  it('should give staff who are not admins no page and no link', async () => {
    renderWithSession(<AppRoutes />, nurse, { route: '/audit' });
    await connected(nurse);
    await screen.findByText('Nothing here');
    expect(screen.queryByRole('heading', { name: 'Access audit' })).toBeNull();
    expect(screen.queryByRole('link', { name: 'Access audit' })).toBeNull();
  });
});
