import { useState } from 'react';
import type { PatientDetails_PatientFragment } from '../../__generated__/graphql';
import { useCreatePatientMutation, useUpdatePatientMutation } from '../../mutations/usePatientMutations';
import { Dialog, DialogActions } from '../ui/Dialog';
import { errorMessage } from '../ui/errors';
import { Field } from '../ui/Field';
import { FormError } from '../ui/FormError';

/** Who may register patients and correct their details (the server's rule: front desk, nurses, admins). */
export const CAN_EDIT_PATIENTS = ['ADMIN', 'FRONT_DESK', 'NURSE'];

interface PatientDialogProps {
  /** The patient to correct; left out, a new one is registered. */
  patient?: PatientDetails_PatientFragment;
  onClose(): void;
  onSaved(id: string): void;
}

/** Register a patient, or correct one's details. */
export function PatientDialog({ patient, onClose, onSaved }: PatientDialogProps) {
  const [create, created] = useCreatePatientMutation();
  const [update, updated] = useUpdatePatientMutation();
  const [form, setForm] = useState({
    mrn: patient?.mrn ?? '',
    firstName: patient?.firstName ?? '',
    lastName: patient?.lastName ?? '',
    dateOfBirth: patient?.dateOfBirth ?? '',
    phone: patient?.phone ?? '',
    email: patient?.email ?? '',
  });
  const [error, setError] = useState<string | null>(null);
  const set = (field: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [field]: e.target.value }));

  const submit = async () => {
    setError(null);
    try {
      if (patient) {
        const result = await update(patient.id, form);
        if (result.data) onSaved(result.data.updatePatient.id);
      } else {
        const result = await create({ ...form, phone: form.phone || null, email: form.email || null });
        if (result.data) onSaved(result.data.createPatient.id);
      }
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  const loading = created.loading || updated.loading;
  return (
    <Dialog
      title={patient ? `Edit details: ${patient.displayName}` : 'New patient'}
      onClose={onClose}
      onSubmit={submit}
      actions={
        <DialogActions submit={patient ? 'Save details' : 'Register patient'} disabled={loading} onCancel={onClose} />
      }
    >
      <div className="field-row">
        <Field label="First name">
          <input value={form.firstName} maxLength={100} onChange={set('firstName')} required autoComplete="off" />
        </Field>
        <Field label="Last name">
          <input value={form.lastName} maxLength={100} onChange={set('lastName')} required autoComplete="off" />
        </Field>
      </div>
      <div className="field-row">
        <Field label="Date of birth">
          <input type="date" value={form.dateOfBirth} onChange={set('dateOfBirth')} required />
        </Field>
        <Field label="MRN">
          <input value={form.mrn} maxLength={40} onChange={set('mrn')} required autoComplete="off" />
        </Field>
      </div>
      <div className="field-row">
        <Field label="Phone">
          <input type="tel" value={form.phone} maxLength={40} onChange={set('phone')} autoComplete="off" />
        </Field>
        <Field label="Email">
          <input type="email" value={form.email} maxLength={254} onChange={set('email')} autoComplete="off" />
        </Field>
      </div>
      <FormError error={error} />
    </Dialog>
  );
}
