// Owns: the form to propose a new household found in the field (`propose_household`).
import { useState } from 'preact/hooks';
import * as api from '../api';
import { ErrorBox, Field, Header } from '../components';
import { t } from '../i18n';
import type { ShownError } from '../types';

export function ProposeForm({ onCancel, onSaved }: { onCancel: () => void; onSaved: (id: string) => void }) {
  const [name, setName] = useState('');
  const [nik, setNik] = useState('');
  const [kk, setKk] = useState('');
  const [birthDate, setBirthDate] = useState('');
  const [address, setAddress] = useState('');
  const [rw, setRw] = useState('');
  const [rt, setRt] = useState('');
  const [err, setErr] = useState<ShownError | null>(null);
  const [saving, setSaving] = useState(false);

  const save = async (e: Event) => {
    e.preventDefault();
    const rwN = Number.parseInt(rw, 10);
    const rtN = Number.parseInt(rt, 10);
    if (!name.trim() || !address.trim() || !(rwN > 0) || !(rtN > 0)) {
      setErr({ code: 'form', message: t('required_fields') });
      return;
    }
    setSaving(true);
    setErr(null);
    try {
      const r = await api.proposeHousehold({
        head_name: name.trim(),
        nik: nik.replace(/\s/g, '') || null,
        kk: kk.replace(/\s/g, '') || null,
        birth_date: birthDate || null,
        address: address.trim(),
        rw: rwN,
        rt: rtN,
      });
      onSaved(r.id);
    } catch (e) {
      setErr(api.toCommandError(e));
      setSaving(false);
    }
  };

  return (
    <div class="screen" id="propose-form">
      <Header title={t('propose_title')} onBack={onCancel} />
      <main>
      <form class="card form" onSubmit={save} noValidate>
        <Field label={t('head_name')} for="propose-name">
          <input id="propose-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label={t('nik_optional')} for="propose-nik">
          <input id="propose-nik" inputMode="numeric" maxLength={16} autoComplete="off" class="mono" value={nik}
            onInput={(e) => setNik(e.currentTarget.value)} />
        </Field>
        <Field label={t('kk_optional')} for="propose-kk">
          <input id="propose-kk" inputMode="numeric" maxLength={16} autoComplete="off" class="mono" value={kk}
            onInput={(e) => setKk(e.currentTarget.value)} />
        </Field>
        <Field label={t('head_birth_date_optional')} for="propose-birth-date">
          <input id="propose-birth-date" type="date" value={birthDate}
            onInput={(e) => setBirthDate(e.currentTarget.value)} />
        </Field>
        <Field label={t('address')} for="propose-address">
          <input id="propose-address" value={address} onInput={(e) => setAddress(e.currentTarget.value)} />
        </Field>
        <div class="two">
          <Field label={t('rw')} for="propose-rw">
            <input id="propose-rw" inputMode="numeric" value={rw} onInput={(e) => setRw(e.currentTarget.value)} />
          </Field>
          <Field label={t('rt')} for="propose-rt">
            <input id="propose-rt" inputMode="numeric" value={rt} onInput={(e) => setRt(e.currentTarget.value)} />
          </Field>
        </div>
        <ErrorBox err={err} id="propose-error" />
        <button id="save-proposal" class="primary wide" type="submit" disabled={saving}>
          {saving ? t('saving') : t('save_proposal')}
        </button>
      </form>
      </main>
    </div>
  );
}
