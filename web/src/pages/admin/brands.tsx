// Brands of an account: company, colors and logos, with a live preview of the signing mail as the brand
// makes it look (the mail's own colors, logo and button), and logo upload (PUT the raw image).
import { useEffect, useState } from 'react';
import { call, del, get, patch, post } from '../../api.ts';
import { useSession } from '../../session.tsx';
import { Alert, Button, Field, Form, Loading, PageTitle, useAction, useLoad } from '../../ui.tsx';
import { AccountPicker, useAccountChoice } from './common.tsx';

interface Brand {
  id: string;
  name: string;
  company: string | null;
  colors: Record<string, string>;
  email_sender_name: string | null;
  is_sending_default: boolean;
  logos: Record<string, { url: string; content_type: string } | null>;
}

const HEX = /^#[0-9A-Fa-f]{6}$/;

function Preview({
  brand,
  color,
  company,
  logo,
}: {
  brand: string;
  color: string;
  company: string;
  logo: string | null;
}) {
  const primary = HEX.test(color) ? color : '#1f4e79';
  return (
    <figure className="preview" aria-label="Preview of the signing mail">
      {logo && <img src={logo} alt={`${company || brand} logo`} />}
      <p>
        <strong>{company || brand}</strong> sent you a document to review and sign.
      </p>
      <span className="cta" style={{ background: primary }}>
        Review document
      </span>
      <figcaption className="muted">Preview: the mail people receive, in this brand's colors.</figcaption>
    </figure>
  );
}

function BrandEditor({
  accountId,
  brand,
  onChange,
}: {
  accountId: string;
  brand: Brand;
  onChange: () => void;
}) {
  const { can } = useSession();
  const [company, setCompany] = useState(brand.company ?? '');
  const [color, setColor] = useState(brand.colors.primary ?? '#1f4e79');
  const [file, setFile] = useState<File | null>(null);
  // A chosen file shows at once (a blob: URL, freed when it changes); once uploaded, the stored logo shows.
  const [chosen, setChosen] = useState<string | null>(null);
  useEffect(() => {
    if (!file) return setChosen(null);
    const url = URL.createObjectURL(file);
    setChosen(url);
    return () => URL.revokeObjectURL(url);
  }, [file]);
  const stored = brand.logos.primary?.url ?? null;
  const preview = chosen ?? stored;
  const save = useAction(async () => {
    await patch(`/api/accounts/${accountId}/brands/${brand.id}`, {
      company: company || null,
      colors: { primary: color },
    });
    if (file)
      await call('PUT', `/api/accounts/${accountId}/brands/${brand.id}/logos/primary`, undefined, {
        raw: { body: file, type: file.type },
      });
    setFile(null);
    onChange();
  });
  const remove = useAction(async () => {
    await del(`/api/accounts/${accountId}/brands/${brand.id}`);
    onChange();
  });
  const writer = can('brands:write');
  return (
    <div className="card">
      <h2>{brand.name}</h2>
      <div className="row">
        <div>
          <Form onSubmit={save.run} label={`Edit ${brand.name}`}>
            <Field
              label="Company shown in mails"
              value={company}
              onChange={(e) => setCompany(e.target.value)}
              disabled={!writer}
            />
            <Field
              label="Primary color"
              type="color"
              value={HEX.test(color) ? color : '#1f4e79'}
              onChange={(e) => setColor(e.target.value)}
              disabled={!writer}
            />
            <Field
              label="Logo (PNG, JPEG, GIF or SVG)"
              type="file"
              accept="image/png,image/jpeg,image/gif,image/svg+xml"
              onChange={(e) => setFile(e.target.files?.[0] ?? null)}
              disabled={!writer}
            />
            <Alert error={save.error || remove.error} />
            {writer && (
              <div className="row">
                <Button type="submit" kind="primary" busy={save.busy}>
                  Save brand
                </Button>
                <Button
                  kind="danger"
                  onClick={() => void remove.run()}
                  aria-label={`Delete brand ${brand.name}`}
                >
                  Delete
                </Button>
              </div>
            )}
          </Form>
        </div>
        <Preview brand={brand.name} color={color} company={company} logo={preview} />
      </div>
    </div>
  );
}

export default function BrandsPage() {
  const { can } = useSession();
  const [accountId, setAccountId, accounts] = useAccountChoice();
  const brands = useLoad(
    (signal) =>
      accountId
        ? get<{ data: Brand[] }>(`/api/accounts/${accountId}/brands`, signal)
        : Promise.resolve({ data: [] }),
    [accountId],
  );
  const [name, setName] = useState('');
  const create = useAction(async () => {
    await post(`/api/accounts/${accountId}/brands`, { name });
    setName('');
    brands.reload();
  });
  return (
    <>
      <PageTitle>Brands</PageTitle>
      <AccountPicker value={accountId} onChange={setAccountId} accounts={accounts} />
      {can('brands:write') && (
        <Form onSubmit={create.run} label="New brand" className="row card">
          <Field label="Brand name" value={name} onChange={(e) => setName(e.target.value)} required />
          <Button type="submit" kind="primary" busy={create.busy}>
            Create brand
          </Button>
        </Form>
      )}
      <Alert error={brands.error || create.error} />
      {brands.loading && !brands.data ? (
        <Loading what="brands" />
      ) : (
        (brands.data?.data ?? []).map(
          (b) =>
            accountId && <BrandEditor key={b.id} accountId={accountId} brand={b} onChange={brands.reload} />,
        )
      )}
      {brands.data?.data.length === 0 && <p>No brand yet: mails use Signet's colors.</p>}
    </>
  );
}
