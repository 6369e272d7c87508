import { useQuery } from '@apollo/client/react';
import { useEffect, useEffectEvent, useState } from 'react';
import { PatientPickerDocument } from '../../__generated__/graphql';
import { Field } from '../ui/Field';

export interface PickedPatient {
  id: string;
  displayName: string;
  mrn: string;
}

/** A search box and the matching patients (by first name, last name or MRN). */
export function PatientPicker({
  value,
  onChange,
}: {
  value: PickedPatient | null;
  onChange(patient: PickedPatient | null): void;
}) {
  const [search, setSearch] = useState('');
  const [debounced, setDebounced] = useState('');
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(search.trim()), 200);
    return () => clearTimeout(timer);
  }, [search]);
  const { data, loading } = useQuery(PatientPickerDocument, { variables: { search: debounced || null } });
  const patients = data?.patients.edges.map((e) => e.node) ?? [];

  // Only when the results change: keep the choice if it is still listed (or nothing was searched for), else take the
  // first match.
  const followResults = useEffectEvent((listed: PickedPatient[]) => {
    if (!listed.length) return;
    if (!value || (debounced && !listed.some((p) => p.id === value.id))) onChange(listed[0]);
  });
  useEffect(() => {
    followResults(data?.patients.edges.map((e) => e.node) ?? []);
  }, [data]);
  // The current choice stays offered even when the first page of patients does not list it.
  const options = value && !patients.some((p) => p.id === value.id) ? [value, ...patients] : patients;

  return (
    <div className="field-group">
      <Field label="Find patient">
        <input type="search" value={search} placeholder="Name or MRN" onChange={(e) => setSearch(e.target.value)} />
      </Field>
      <Field label="Patient">
        <select
          value={value?.id ?? ''}
          onChange={(e) => onChange(options.find((p) => p.id === e.target.value) ?? null)}
          disabled={!options.length}
          required
        >
          {!options.length && <option value="">{loading ? 'Searching…' : 'No patient found'}</option>}
          {options.map((p) => (
            <option key={p.id} value={p.id}>
              {p.displayName} · {p.mrn}
            </option>
          ))}
        </select>
      </Field>
    </div>
  );
}
