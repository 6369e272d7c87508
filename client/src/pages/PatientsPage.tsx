import { useQuery } from '@apollo/client/react';
import { useEffect, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { PatientsPageDocument } from '../__generated__/graphql';
import { CAN_EDIT_PATIENTS, PatientDialog } from '../components/patients/PatientDialog';
import { Empty, ErrorNotice, Loading } from '../components/ui/Empty';
import { errorMessage } from '../components/ui/errors';
import { ageOn, formatDate, today } from '../lib/time';
import { useCurrentUser } from '../session/SessionContext';

export function PatientsPage() {
  const { tenant, role } = useCurrentUser();
  const navigate = useNavigate();
  const [registering, setRegistering] = useState(false);
  const [search, setSearch] = useState('');
  const [debounced, setDebounced] = useState('');
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(search.trim()), 200);
    return () => clearTimeout(timer);
  }, [search]);
  const { data, loading, error } = useQuery(PatientsPageDocument, { variables: { search: debounced || null } });
  const patients = data?.patients.edges.map((e) => e.node) ?? [];
  const now = today(tenant.timeZone);
  return (
    <div className="page">
      <header className="page-header">
        <div>
          <h1>Patients</h1>
          <p className="page-sub">Opening a chart is recorded in the clinic's access log.</p>
        </div>
        <div className="toolbar">
          <input
            className="search-input"
            type="search"
            aria-label="Search patients"
            placeholder="Search by name or MRN"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
          {CAN_EDIT_PATIENTS.includes(role) && (
            <button type="button" className="button button-primary" onClick={() => setRegistering(true)}>
              New patient
            </button>
          )}
        </div>
      </header>
      {error && !data ? (
        // Not "No patient matches": nothing is known about the patients while the server cannot be asked.
        <ErrorNotice>{errorMessage(error)}</ErrorNotice>
      ) : loading && !data ? (
        <Loading />
      ) : patients.length === 0 ? (
        <Empty title="No patient matches" />
      ) : (
        <div className="table-scroll">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">MRN</th>
                <th scope="col">Date of birth</th>
                <th scope="col">Phone</th>
              </tr>
            </thead>
            <tbody>
              {patients.map((p) => (
                <tr key={p.id}>
                  <td>
                    <Link to={`/patients/${p.id}`}>{p.displayName}</Link>
                  </td>
                  <td className="mono">{p.mrn}</td>
                  <td>
                    {formatDate(p.dateOfBirth)} ({ageOn(p.dateOfBirth, now)})
                  </td>
                  <td>{p.phone ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {registering && (
        <PatientDialog onClose={() => setRegistering(false)} onSaved={(id) => navigate(`/patients/${id}`)} />
      )}
    </div>
  );
}
