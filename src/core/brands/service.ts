// Brands belong to an account: a name unique in it (case-insensitively), colors, email sender details, up to
// three logos, and two flags — the account's sending default and signing default. Setting a flag clears it
// on the account's other brands in the same transaction; partial unique indexes keep one of each.
import { createHash } from 'node:crypto';
import type { Db } from '../../db/connection.ts';
import type { Brand } from '../../db/schema.ts';
import type { AuditBuffer } from '../audit/writer.ts';
import { type Ctx, mutate } from '../context.ts';
import { AppError, invalidField, nameTaken, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { DEFAULT_LIMIT, decodeCursor, type Page, toPage } from '../pagination.ts';
import { accountInPath } from '../refs.ts';
import { checkLogo, LOGO_KINDS, type LogoKind, type LogoType } from './logos.ts';

/** The colors a brand can set; anything else is refused, naming the key. */
export const COLOR_KEYS = [
  'primary',
  'secondary',
  'button',
  'button_text',
  'header',
  'header_text',
  'background',
  'text',
  'link',
] as const;
export type ColorKey = (typeof COLOR_KEYS)[number];
export const HEX_COLOR = /^#[0-9A-Fa-f]{6}$/;

export interface LogoView {
  content_type: string;
  size_bytes: number;
  sha256: string;
  url: string;
}

export interface BrandView extends Brand {
  logos: Record<LogoKind, LogoView | null>;
}

export interface BrandInput {
  name: string;
  company?: string | null;
  colors?: Partial<Record<string, string>>;
  email_sender_name?: string | null;
  email_reply_to?: string | null;
  is_sending_default?: boolean;
  is_signing_default?: boolean;
}

export interface BrandPatch extends Partial<Omit<BrandInput, 'colors'>> {
  /** Merged key by key into the brand's colors; null removes a color. */
  colors?: Partial<Record<string, string | null>>;
}

export interface LogoFile {
  content_type: LogoType;
  content: Buffer;
}

// Two requests making different brands the default at once: the second trips the partial unique index.
const DEFAULT_RACE = new AppError(
  'conflict',
  'another request changed the default brand at the same time; retry',
);

const FLAGS = ['is_sending_default', 'is_signing_default'] as const;

function checkColors(colors: Partial<Record<string, string | null>>, allowNull: boolean): void {
  for (const [key, value] of Object.entries(colors)) {
    if (!(COLOR_KEYS as readonly string[]).includes(key)) {
      throw invalidField(`colors.${key}`, `unknown color; the colors are ${COLOR_KEYS.join(', ')}`);
    }
    if (value === null && allowNull) continue;
    if (typeof value !== 'string' || !HEX_COLOR.test(value)) {
      throw invalidField(`colors.${key}`, 'must be a hex color #RRGGBB');
    }
  }
}

export function logoUrl(accountId: string, brandId: string, kind: LogoKind): string {
  return `/api/accounts/${accountId}/brands/${brandId}/logos/${kind}`;
}

export class BrandsService {
  constructor(private readonly db: Db) {}

  async list(ctx: Ctx, accountId: string, q: { limit?: number; cursor?: string }): Promise<Page<BrandView>> {
    await accountInPath(ctx, this.db, accountId);
    const limit = q.limit ?? DEFAULT_LIMIT;
    const after = decodeCursor(q.cursor);
    let query = this.db
      .selectFrom('brands')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('organization_id', '=', ctx.principal.organizationId)
      .orderBy('id')
      .limit(limit + 1);
    if (after) query = query.where('id', '>', after);
    const page = toPage(await query.execute(), limit, (b) => b.id);
    return { data: await this.views(this.db, page.data), next_cursor: page.next_cursor };
  }

  async get(ctx: Ctx, accountId: string, id: string, db: Db = this.db): Promise<BrandView> {
    await accountInPath(ctx, db, accountId);
    const [view] = await this.views(db, [await this.load(ctx, db, accountId, id)]);
    return view!;
  }

  async create(ctx: Ctx, accountId: string, input: BrandInput): Promise<BrandView> {
    if (input.colors) checkColors(input.colors, false);
    return mutate(
      this.db,
      ctx,
      async (trx, audit) => {
        await accountInPath(ctx, trx, accountId, {
          lock: input.is_sending_default || input.is_signing_default,
        });
        const id = newId();
        await this.clearDefaults(trx, audit, accountId, id, input);
        const brand = await trx
          .insertInto('brands')
          .values({
            id,
            organization_id: ctx.principal.organizationId,
            account_id: accountId,
            name: input.name,
            company: input.company ?? null,
            colors: (input.colors ?? {}) as Record<string, string>,
            email_sender_name: input.email_sender_name ?? null,
            email_reply_to: input.email_reply_to ?? null,
            is_sending_default: input.is_sending_default ?? false,
            is_signing_default: input.is_signing_default ?? false,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        audit.record({ action: 'brand.created', targetType: 'brand', targetId: id, accountId, after: brand });
        return (await this.views(trx, [brand]))[0]!;
      },
      this.hints(input.name),
    );
  }

  async update(ctx: Ctx, accountId: string, id: string, patch: BrandPatch): Promise<BrandView> {
    if (patch.colors) checkColors(patch.colors, true);
    return mutate(
      this.db,
      ctx,
      async (trx, audit) => {
        await accountInPath(ctx, trx, accountId, {
          lock: patch.is_sending_default || patch.is_signing_default,
        });
        const before = await this.load(ctx, trx, accountId, id, true);
        const { colors, ...fields } = patch;
        if (Object.keys(patch).length === 0) return (await this.views(trx, [before]))[0]!;
        const set: Record<string, unknown> = { ...fields, updated_at: new Date() };
        if (colors) {
          const merged: Record<string, string> = { ...before.colors };
          for (const [key, value] of Object.entries(colors)) {
            if (value === null || value === undefined) delete merged[key];
            else merged[key] = value;
          }
          set.colors = merged;
        }
        await this.clearDefaults(trx, audit, accountId, id, patch);
        const after = await trx
          .updateTable('brands')
          .set(set)
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirstOrThrow();
        audit.record({
          action: 'brand.updated',
          targetType: 'brand',
          targetId: id,
          accountId,
          before,
          after,
        });
        return (await this.views(trx, [after]))[0]!;
      },
      this.hints(patch.name ?? ''),
    );
  }

  async delete(ctx: Ctx, accountId: string, id: string): Promise<void> {
    await mutate(this.db, ctx, async (trx, audit) => {
      await accountInPath(ctx, trx, accountId);
      const before = await this.load(ctx, trx, accountId, id, true);
      // brand_logos rows go with the brand (ON DELETE CASCADE).
      await trx.deleteFrom('brands').where('id', '=', id).execute();
      audit.record({ action: 'brand.deleted', targetType: 'brand', targetId: id, accountId, before });
    });
  }

  /** Stores (or replaces) one of the brand's logos after checking the bytes are what Content-Type says. */
  async putLogo(
    ctx: Ctx,
    accountId: string,
    id: string,
    kind: LogoKind,
    contentType: string | undefined,
    content: Buffer | undefined,
  ): Promise<BrandView> {
    return mutate(this.db, ctx, async (trx, audit) => {
      await accountInPath(ctx, trx, accountId);
      await this.load(ctx, trx, accountId, id, true);
      const type = checkLogo(contentType, content);
      const bytes = content!;
      const logo = {
        content_type: type,
        size_bytes: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      };
      const previous = await trx
        .selectFrom('brand_logos')
        .select(['content_type', 'size_bytes', 'sha256'])
        .where('brand_id', '=', id)
        .where('kind', '=', kind)
        .executeTakeFirst();
      await trx
        .insertInto('brand_logos')
        .values({ brand_id: id, kind, ...logo, content: bytes })
        .onConflict((oc) => oc.columns(['brand_id', 'kind']).doUpdateSet({ ...logo, content: bytes }))
        .execute();
      const after = await trx
        .updateTable('brands')
        .set({ updated_at: new Date() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      // The metadata under one key: the audit diff masks top-level keys that look secret ("content…").
      audit.record({
        action: 'brand.logo_uploaded',
        targetType: 'brand',
        targetId: id,
        accountId,
        before: { logo: previous ? { kind, ...previous } : null },
        after: { logo: { kind, ...logo } },
      });
      return (await this.views(trx, [after]))[0]!;
    });
  }

  async getLogo(ctx: Ctx, accountId: string, id: string, kind: LogoKind): Promise<LogoFile> {
    await accountInPath(ctx, this.db, accountId);
    await this.load(ctx, this.db, accountId, id);
    const logo = await this.db
      .selectFrom('brand_logos')
      .select(['content_type', 'content'])
      .where('brand_id', '=', id)
      .where('kind', '=', kind)
      .executeTakeFirst();
    if (!logo) throw notFound(`${kind} logo of brand`, id, 'brand logo');
    return { content_type: logo.content_type as LogoType, content: logo.content };
  }

  async deleteLogo(ctx: Ctx, accountId: string, id: string, kind: LogoKind): Promise<void> {
    await mutate(this.db, ctx, async (trx, audit) => {
      await accountInPath(ctx, trx, accountId);
      await this.load(ctx, trx, accountId, id, true);
      const removed = await trx
        .deleteFrom('brand_logos')
        .where('brand_id', '=', id)
        .where('kind', '=', kind)
        .returning(['content_type', 'size_bytes', 'sha256'])
        .executeTakeFirst();
      if (!removed) throw notFound(`${kind} logo of brand`, id, 'brand logo');
      await trx.updateTable('brands').set({ updated_at: new Date() }).where('id', '=', id).execute();
      audit.record({
        action: 'brand.logo_deleted',
        targetType: 'brand',
        targetId: id,
        accountId,
        before: { logo: { kind, ...removed } },
        after: { logo: null },
      });
    });
  }

  // --- internals -------------------------------------------------------------------------------------

  private hints(name: string): Record<string, AppError> {
    return {
      brands_name_key: nameTaken('brand', name),
      brands_sending_default_key: DEFAULT_RACE,
      brands_signing_default_key: DEFAULT_RACE,
    };
  }

  private async load(ctx: Ctx, db: Db, accountId: string, id: string, lock = false): Promise<Brand> {
    let query = db
      .selectFrom('brands')
      .selectAll()
      .where('id', '=', id)
      .where('account_id', '=', accountId)
      .where('organization_id', '=', ctx.principal.organizationId);
    if (lock) query = query.forUpdate();
    const brand = await query.executeTakeFirst();
    if (!brand) throw notFound('brand', id);
    return brand;
  }

  /** Clears each default flag the input sets on the account's other brands, recording each change. */
  private async clearDefaults(
    trx: Db,
    audit: AuditBuffer,
    accountId: string,
    keepId: string,
    input: Partial<Record<(typeof FLAGS)[number], boolean | undefined>>,
  ): Promise<void> {
    for (const flag of FLAGS) {
      if (input[flag] !== true) continue;
      const cleared = await trx
        .updateTable('brands')
        .set({ [flag]: false, updated_at: new Date() })
        .where('account_id', '=', accountId)
        .where('id', '!=', keepId)
        .where(flag, '=', true)
        .returning('id')
        .execute();
      for (const { id } of cleared) {
        audit.record({
          action: 'brand.updated',
          targetType: 'brand',
          targetId: id,
          accountId,
          before: { [flag]: true },
          after: { [flag]: false },
          extra: {
            reason: `brand ${keepId} became the ${flag === 'is_sending_default' ? 'sending' : 'signing'} default`,
          },
        });
      }
    }
  }

  private async views(db: Db, brands: Brand[]): Promise<BrandView[]> {
    if (brands.length === 0) return [];
    const logos = await db
      .selectFrom('brand_logos')
      .select(['brand_id', 'kind', 'content_type', 'size_bytes', 'sha256'])
      .where(
        'brand_id',
        'in',
        brands.map((b) => b.id),
      )
      .execute();
    return brands.map((brand) => {
      const view: BrandView = {
        ...brand,
        logos: Object.fromEntries(LOGO_KINDS.map((k) => [k, null])) as BrandView['logos'],
      };
      for (const logo of logos) {
        if (logo.brand_id !== brand.id) continue;
        view.logos[logo.kind] = {
          content_type: logo.content_type,
          size_bytes: logo.size_bytes,
          sha256: logo.sha256,
          url: logoUrl(brand.account_id, brand.id, logo.kind),
        };
      }
      return view;
    });
  }
}
