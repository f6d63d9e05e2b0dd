// Signet's one product and one plan, as the Admin API's multi-product (v2.1) and account-creation operations
// show them. DocuSign sells several products (eSignature, CLM, …) under plans; Signet administers exactly one
// product, eSignature, and every account of an organization is on the same self-hosted "plan".
//
// The ids are fixed GUIDs, the same on every installation and release, so scripts may write them down. They
// were derived once as UUIDv5 (RFC 9562, URL namespace) of the URLs in the comments and are written here as
// literals; test/management-multi-product.test.ts re-derives them so a typo cannot slip in.

/** uuidv5('https://signet.invalid/docusign/products/esignature', URL namespace). */
export const ESIGN_PRODUCT_ID = '6dc61d91-23f1-5056-a5a2-a900d7a35530';
/** The name DocuSign's multi-product API gives eSignature. */
export const ESIGN_PRODUCT_NAME = 'ESign';

/** uuidv5('https://signet.invalid/docusign/plans/self-hosted', URL namespace). */
export const SIGNET_PLAN_ID = '53f01cc6-1641-5048-9238-14a04e7d4cda';
export const SIGNET_PLAN_NAME = 'Signet self-hosted';

/** The plan's one item (module): what an account on the plan can do through Signet. */
export const ESIGN_PLAN_ITEM = {
  plan_item_id: ESIGN_PRODUCT_ID,
  plan_item_name: ESIGN_PRODUCT_NAME,
  plan_item_description:
    'eSignature administration: users and memberships, permission profiles, groups, brands and account ' +
    'settings, bulk user imports and exports',
  plan_item_internal_id: 'esignature',
} as const;

export function isEsignProduct(productId: string): boolean {
  return productId.toLowerCase() === ESIGN_PRODUCT_ID;
}
