// What the signing page shows a party (src/core/signing/service.ts makes it, src/faces/sign/pages.ts renders it).
import type { EnvelopeStatus, PartyRole, PartyStatus } from '../../db/schema.ts';
import type { ColorKey } from '../brands/service.ts';

export interface SigningBrand {
  name: string;
  colors: Partial<Record<ColorKey, string>>;
  /** Whether the brand has a primary logo (served by GET /sign/{id}/logo). */
  logo: boolean;
}

/** What the signing page shows a party. */
export interface SigningPageView {
  envelope: {
    id: string;
    title: string;
    message: string;
    status: EnvelopeStatus;
    completed_at: Date | null;
  };
  party: {
    id: string;
    name: string;
    email: string;
    role: PartyRole;
    order: number;
    status: PartyStatus;
    signed_at: Date | null;
    signed_name: string | null;
  };
  /** Every party, in order, by name and status (no addresses: a party sees who signs, not how to reach them). */
  parties: {
    order: number;
    name: string;
    role: PartyRole;
    status: PartyStatus;
  }[];
  /** Who sends: the brand's sender name, company or name, or the account's name. */
  sender: string;
  brand: SigningBrand | null;
  /** The party may sign or decline now. */
  can_sign: boolean;
}
