import { hashPassword } from '../../auth/passwords.js';
import type { Db, Trx } from '../knex.js';
import type { Role } from '../rows.js';

/** The password of every demo account. For local demos only: production never loads this seed (SEED_DEMO). */
export const DEMO_PASSWORD = 'derm-demo-2026';

interface DemoClinic {
  slug: string;
  name: string;
  timeZone: string;
  domain: string;
  staff: { key: string; name: string; role: Role }[];
  patients: [string, string, string][];
}

export const DEMO_CLINICS: DemoClinic[] = [
  {
    slug: 'sunrise-derm',
    name: 'Sunrise Dermatology',
    timeZone: 'America/New_York',
    domain: 'sunrise.example',
    staff: [
      { key: 'admin', name: 'Alex Morgan', role: 'ADMIN' },
      { key: 'lee', name: 'Dr. Maya Lee', role: 'PROVIDER' },
      { key: 'patel', name: 'Dr. Arjun Patel', role: 'PROVIDER' },
      { key: 'nurse', name: 'Sam Rivera', role: 'NURSE' },
      { key: 'frontdesk', name: 'Jordan Kim', role: 'FRONT_DESK' },
    ],
    patients: [
      ['Olivia', 'Bennett', '1984-03-12'],
      ['Noah', 'Carter', '1971-07-30'],
      ['Emma', 'Diaz', '1992-11-02'],
      ['Liam', 'Evans', '1958-01-19'],
      ['Ava', 'Foster', '2001-05-25'],
      ['Mason', 'Garcia', '1966-09-08'],
      ['Sophia', 'Hughes', '1979-12-14'],
      ['Ethan', 'Ito', '1988-04-03'],
      ['Isabella', 'Johnson', '1995-08-21'],
      ['Lucas', 'Khan', '1949-02-27'],
      ['Mia', 'Lopez', '2010-06-16'],
      ['James', 'Murphy', '1975-10-09'],
    ],
  },
  {
    slug: 'lakeside-skin',
    name: 'Lakeside Skin Clinic',
    timeZone: 'America/Chicago',
    domain: 'lakeside.example',
    staff: [
      { key: 'admin', name: 'Priya Shah', role: 'ADMIN' },
      { key: 'chen', name: 'Dr. Wei Chen', role: 'PROVIDER' },
      { key: 'okafor', name: 'Dr. Ngozi Okafor', role: 'PROVIDER' },
      { key: 'nurse', name: 'Chris Novak', role: 'NURSE' },
      { key: 'frontdesk', name: 'Taylor Brooks', role: 'FRONT_DESK' },
    ],
    patients: [
      ['Harper', 'Nguyen', '1987-02-11'],
      ['Elijah', 'Owens', '1963-08-04'],
      ['Amelia', 'Price', '1999-12-30'],
      ['Benjamin', 'Quinn', '1954-06-22'],
      ['Charlotte', 'Reed', '1990-03-17'],
      ['Henry', 'Silva', '1972-11-05'],
      ['Evelyn', 'Turner', '2004-09-28'],
      ['Jack', 'Underwood', '1981-01-13'],
    ],
  },
];

/** `<key>@<clinic domain>`, e.g. `lee@sunrise.example`. */
export const demoEmail = (clinic: DemoClinic, key: string) => `${key}@${clinic.domain}`;

const REASONS = [
  'Mole check',
  'Acne follow-up',
  'Eczema flare',
  'Full-body skin exam',
  'Psoriasis follow-up',
  'Biopsy results',
  'Rash',
  'Wart removal',
];

async function seedClinic(trx: Trx, clinic: DemoClinic, passwordHash: string): Promise<void> {
  const [tenant] = await trx('tenants')
    .insert({ slug: clinic.slug, name: clinic.name, timeZone: clinic.timeZone })
    .returning('*');
  const users = await trx('users')
    .insert(
      clinic.staff.map((s) => ({
        tenantId: tenant.id,
        email: demoEmail(clinic, s.key),
        name: s.name,
        role: s.role,
        passwordHash,
      })),
    )
    .returning('*');
  const byKey = new Map(clinic.staff.map((s, i) => [s.key, users[i]]));
  const patients = await trx('patients')
    .insert(
      clinic.patients.map(([firstName, lastName, dateOfBirth], i) => ({
        tenantId: tenant.id,
        mrn: `${clinic.slug.slice(0, 3).toUpperCase()}-${String(1001 + i)}`,
        firstName,
        lastName,
        dateOfBirth,
        phone: `555-01${String(10 + i).padStart(2, '0')}`,
      })),
    )
    .returning('*');

  // Today's schedule, in the clinic's own time zone: each provider every 45 minutes from 9:00, plus yesterday's visits.
  const providers = users.filter((u: { role: Role }) => u.role === 'PROVIDER');
  const appointments: Record<string, unknown>[] = [];
  providers.forEach((provider: { id: string }, p: number) => {
    for (let slot = 0; slot < 8; slot++) {
      const minutes = 9 * 60 + slot * 45;
      const patient = patients[(slot * providers.length + p) % patients.length];
      for (const dayOffset of [-1, 0]) {
        const at = (m: number) =>
          trx.raw(`((now() at time zone ?)::date + ?::int + make_interval(mins => ?)) at time zone ?`, [
            clinic.timeZone,
            dayOffset,
            m,
            clinic.timeZone,
          ]);
        appointments.push({
          tenantId: tenant.id,
          providerId: provider.id,
          patientId: patient.id,
          startsAt: at(minutes),
          endsAt: at(minutes + 30),
          room: `Room ${p + 1}`,
          reason: REASONS[(slot + p) % REASONS.length],
          status: dayOffset < 0 ? 'COMPLETED' : 'SCHEDULED',
        });
      }
    }
  });
  await trx('appointments').insert(appointments);

  // A conversation between the first provider, the nurse and the front desk, about a patient.
  const [provider, nurse, frontDesk] = [providers[0], byKey.get('nurse'), byKey.get('frontdesk')];
  const [thread] = await trx('threads')
    .insert({
      tenantId: tenant.id,
      subject: `Biopsy follow-up: ${patients[0].firstName} ${patients[0].lastName}`,
      patientId: patients[0].id,
      createdBy: provider.id,
    })
    .returning('*');
  await trx('threadParticipants').insert(
    [provider, nurse, frontDesk].map((u) => ({ tenantId: tenant.id, threadId: thread.id, userId: u.id })),
  );
  const lines: [typeof provider, string][] = [
    [provider, 'Pathology is back for this patient; please book a follow-up this week.'],
    [frontDesk, 'Will call them this afternoon.'],
    [nurse, 'I can room them Thursday morning if that works.'],
  ];
  let lastMessage: { id: string; seq: number; createdAt: Date } | undefined;
  for (const [sender, body] of lines) {
    [lastMessage] = await trx('messages')
      .insert({ tenantId: tenant.id, threadId: thread.id, senderId: sender.id, body })
      .returning('*');
    // As a live send does: the sender has read everything up to their own message.
    await trx('threadParticipants').where({ threadId: thread.id, userId: sender.id }).update({
      lastReadSeq: lastMessage!.seq,
      lastReadMessageId: lastMessage!.id,
      lastReadAt: lastMessage!.createdAt,
    });
  }
  if (lastMessage) {
    await trx('threads').where({ id: thread.id }).update({ lastActivityAt: lastMessage.createdAt });
    await trx('threadParticipants')
      .where({ threadId: thread.id, userId: nurse.id })
      .update({ lastReadSeq: lastMessage.seq, lastReadMessageId: lastMessage.id, lastReadAt: lastMessage.createdAt });
  }

  const [task] = await trx('tasks')
    .insert({
      tenantId: tenant.id,
      title: 'Call patient with biopsy results',
      priority: 'HIGH',
      patientId: patients[0].id,
      assigneeId: nurse.id,
      createdBy: provider.id,
      dueAt: trx.raw(`now() + interval '1 day'`),
    })
    .returning('*');
  await trx('notifications').insert({
    tenantId: tenant.id,
    userId: nurse.id,
    kind: 'TASK_ASSIGNED',
    priority: 'HIGH',
    title: `New task: ${task.title}`,
    taskId: task.id,
    patientId: patients[0].id,
  });
}

/**
 * Loads both demo clinics when the database has no clinic yet; returns whether it did. `passwordHashCost`: see
 * `PASSWORD_HASH_COST`.
 */
export async function seedDemoIfEmpty(db: Db, passwordHashCost?: number): Promise<boolean> {
  // Every start but the first finds clinics: it need not spend a password hash (~100 ms at the production cost).
  if (await db('tenants').first('id')) return false;
  // Hashed before the lock is taken, so that a second instance waits for the seeding only, then finds it done.
  const passwordHash = await hashPassword(DEMO_PASSWORD, passwordHashCost);
  return db.transaction(async (trx) => {
    // Two instances starting together against one database must not both seed.
    await trx.raw('select pg_advisory_xact_lock(?)', [0x5eed]);
    const existing = await trx('tenants').first('id');
    if (existing) return false;
    for (const clinic of DEMO_CLINICS) await seedClinic(trx, clinic, passwordHash);
    return true;
  });
}
