// eSignature brands: AccountsApi.listBrands, createBrand, getBrand, updateBrand (?replace_brand), deleteBrand,
// deleteBrands ({brands: [{brandId}]}, one transaction, a savepoint per brand), and logos: getBrandLogoByType,
// updateBrandLogoByType (the raw image), deleteBrandLogoByType, logoType primary|secondary|email. brandId is
// Signet's brand GUID. The rules (names, colors, defaults, logo checks) are the brands service's (/api).
//
// Colors travel as [{name, value}]. Signet's color keys and eSignature's names, where DocuSign has one:
// button ↔ buttonPrimaryBackground, button_text ↔ buttonPrimaryText, header ↔ headerBackground,
// header_text ↔ headerText; primary, secondary, background, text and link keep Signet's key as the name.
import type { FastifyInstance } from 'fastify';
import { type Outcome, outcomeOf } from '../../core/batch.ts';
import { LOGO_KINDS, LOGO_TYPES, type LogoKind, sniffLogoType } from '../../core/brands/logos.ts';
import { type BrandView, COLOR_KEYS, type ColorKey } from '../../core/brands/service.ts';
import { AppError, invalidField } from '../../core/errors.ts';
import { emptyResponseCtx, translatingCtx } from '../docusign/ctx.ts';
import { sendLogo } from '../logos.ts';
import { errorDetails } from './errors.ts';
import { accountOf, all, bodyOf, compact, guid, type Json, listOf, optBool, optString } from './shared.ts';

const READ = { docusignScope: 'signature', permission: 'brands:read' } as const;
const WRITE = { docusignScope: 'signature', permission: 'brands:write' } as const;
/** createBrand answers 201: the status stored with the effect under an Idempotency-Key. */
const CREATE = { ...WRITE, idempotency: { status: 201 } } as const;

const COLOR_NAMES: Record<ColorKey, string> = {
  primary: 'primary',
  secondary: 'secondary',
  button: 'buttonPrimaryBackground',
  button_text: 'buttonPrimaryText',
  header: 'headerBackground',
  header_text: 'headerText',
  background: 'background',
  text: 'text',
  link: 'link',
};
const COLOR_KEY_OF = new Map(COLOR_KEYS.map((k) => [COLOR_NAMES[k].toLowerCase(), k] as const));

const logoPath = (accountId: string, brandId: string, kind: LogoKind) =>
  `/v2.1/accounts/${accountId}/brands/${brandId}/logos/${kind}`;

function brand(b: BrandView): Json {
  const logos: Json = {};
  for (const kind of LOGO_KINDS) if (b.logos[kind]) logos[kind] = logoPath(b.account_id, b.id, kind);
  return compact({
    brandId: b.id,
    brandName: b.name,
    brandCompany: b.company ?? undefined,
    isSendingDefault: b.is_sending_default,
    isSigningDefault: b.is_signing_default,
    isOverridingCompanyName: b.company !== null,
    colors: COLOR_KEYS.filter((k) => b.colors[k] !== undefined).map((k) => ({
      name: COLOR_NAMES[k],
      value: b.colors[k]!,
    })),
    brandLanguages: [],
    logos,
  });
}

/** A body's colors [{name, value}] as Signet's color keys; a name Signet does not know is a 400. */
function colorsOf(body: Json): Record<string, string> | undefined {
  if (body.colors === undefined || body.colors === null) return undefined;
  const out: Record<string, string> = {};
  for (const c of listOf(body, 'colors', 50)) {
    const name = typeof c.name === 'string' ? c.name : '';
    const key = COLOR_KEY_OF.get(name.toLowerCase());
    if (!key) {
      throw invalidField(
        'colors',
        `unknown color name ${JSON.stringify(c.name ?? null)}; the names are ${COLOR_KEYS.map((k) => COLOR_NAMES[k]).join(', ')}`,
      );
    }
    if (typeof c.value !== 'string') throw invalidField(`colors.${name}`, 'must be a hex color #RRGGBB');
    out[key] = c.value;
  }
  return out;
}

function fieldsOf(body: Json) {
  return compact({
    company: optString(body, 'brandCompany', 200),
    is_sending_default: optBool(body, 'isSendingDefault'),
    is_signing_default: optBool(body, 'isSigningDefault'),
  });
}

function kindOf(raw: unknown): LogoKind {
  if (typeof raw === 'string' && (LOGO_KINDS as readonly string[]).includes(raw)) return raw as LogoKind;
  throw invalidField('logoType', `must be one of ${LOGO_KINDS.join(', ')}`);
}

export async function brandRoutes(fastify: FastifyInstance): Promise<void> {
  const brands = fastify.services.brands;
  const logoLimit = fastify.config.logoLimitBytes;
  const path = '/v2.1/accounts/:accountId/brands';

  // Logos arrive as the raw image; the SDK always labels them image/png (its updateBrandLogoByType declares
  // that one type), and some clients send application/octet-stream. Registered in this plugin only.
  fastify.addContentTypeParser(
    [...LOGO_TYPES, 'application/octet-stream'],
    { parseAs: 'buffer', bodyLimit: logoLimit },
    (_request, body, done) => done(null, body),
  );

  fastify.get(path, { config: READ }, async (request) => {
    const { ctx, accountId } = await accountOf(request);
    const list = await all((cursor) => brands.list(ctx, accountId, { limit: 500, cursor }));
    return compact({
      brands: list.map(brand),
      senderBrandIdDefault: list.find((b) => b.is_sending_default)?.id,
      recipientBrandIdDefault: list.find((b) => b.is_signing_default)?.id,
    });
  });

  fastify.post(path, { config: CREATE }, async (request, reply) => {
    const { accountId } = await accountOf(request);
    const body = bodyOf(request);
    const name = optString(body, 'brandName', 100)?.trim();
    if (!name) throw invalidField('brandName', 'is required');
    const created = await brands.create(
      translatingCtx<BrandView>(request, (b) => ({ brands: [brand(b)] })),
      accountId,
      { name, colors: colorsOf(body), ...fieldsOf(body) },
    );
    return reply.code(201).send({ brands: [brand(created)] });
  });

  fastify.delete(path, { config: WRITE }, async (request) => {
    const { accountId } = await accountOf(request);
    const items = listOf(bodyOf(request), 'brands');
    if (items.length === 0) throw invalidField('brands', 'name at least one brand to delete');
    const raws = items.map((item) =>
      typeof item.brandId === 'string' ? item.brandId : String(item.brandId ?? ''),
    );
    const render = (outcomes: Outcome<BrandView>[]) => ({
      brands: outcomes.map((o, i) =>
        o.ok
          ? { brandId: o.value.id, brandName: o.value.name }
          : { brandId: raws[i]!, errorDetails: errorDetails(o.error) },
      ),
    });
    const outcomes = await fastify.services.accountBatches.deleteBrands(
      translatingCtx(request, render),
      accountId,
      raws.map((raw) => outcomeOf(() => guid(raw, 'brand'))),
    );
    return render(outcomes);
  });

  fastify.get(`${path}/:brandId`, { config: READ }, async (request) => {
    const { ctx, accountId } = await accountOf(request);
    return brand(await brands.get(ctx, accountId, guid((request.params as Json).brandId as string, 'brand')));
  });

  fastify.put(`${path}/:brandId`, { config: WRITE }, async (request) => {
    const { accountId } = await accountOf(request);
    const id = guid((request.params as Json).brandId as string, 'brand');
    const body = bodyOf(request);
    const replace = /^true$/i.test(String((request.query as Json).replace_brand ?? ''));
    let colors: Record<string, string | null> | undefined = colorsOf(body);
    if (replace) {
      // replace_brand: the body is the whole brand, so colors it leaves out are removed.
      const given = colors ?? {};
      colors = Object.fromEntries(COLOR_KEYS.map((k) => [k, given[k] ?? null]));
    }
    const name = optString(body, 'brandName', 100)?.trim();
    if (name === '') throw invalidField('brandName', 'must not be blank');
    const updated = await brands.update(
      translatingCtx(request, brand),
      accountId,
      id,
      compact({ name, colors, ...fieldsOf(body) }),
    );
    return brand(updated);
  });

  fastify.delete(`${path}/:brandId`, { config: WRITE }, async (request, reply) => {
    const { accountId } = await accountOf(request);
    const id = guid((request.params as Json).brandId as string, 'brand');
    await brands.delete(emptyResponseCtx(request), accountId, id);
    return reply.code(200).send();
  });

  const logoRoute = `${path}/:brandId/logos/:logoType`;

  fastify.get(logoRoute, { config: READ }, async (request, reply) => {
    const { ctx, accountId } = await accountOf(request);
    const params = request.params as Json;
    const logo = await brands.getLogo(
      ctx,
      accountId,
      guid(params.brandId as string, 'brand'),
      kindOf(params.logoType),
    );
    return sendLogo(reply, logo);
  });

  fastify.put(logoRoute, { config: WRITE, bodyLimit: logoLimit }, async (request, reply) => {
    const { accountId } = await accountOf(request);
    const params = request.params as Json;
    const id = guid(params.brandId as string, 'brand');
    const kind = kindOf(params.logoType);
    const bytes = Buffer.isBuffer(request.body) ? request.body : undefined;
    const declared = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    // The SDK says image/png whatever the image is: for that label (and octet-stream) the bytes say what the
    // file is. The service still checks the bytes against the type it is given (a non-image is refused).
    const sniffed =
      bytes && (declared === 'image/png' || declared === 'application/octet-stream')
        ? sniffLogoType(bytes)
        : null;
    if (!bytes && declared !== '' && !(LOGO_TYPES as readonly string[]).includes(declared)) {
      throw new AppError(
        'unsupported_media_type',
        `send the logo as the raw image: ${LOGO_TYPES.join(', ')}`,
      );
    }
    await brands.putLogo(emptyResponseCtx(request), accountId, id, kind, sniffed ?? declared, bytes);
    return reply.code(200).send();
  });

  fastify.delete(logoRoute, { config: WRITE }, async (request, reply) => {
    const { accountId } = await accountOf(request);
    const params = request.params as Json;
    await brands.deleteLogo(
      emptyResponseCtx(request),
      accountId,
      guid(params.brandId as string, 'brand'),
      kindOf(params.logoType),
    );
    return reply.code(200).send();
  });
}
