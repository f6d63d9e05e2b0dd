import { v7 } from 'uuid';

/** Time-ordered UUIDs (RFC 9562 v7): keyset pagination by id then follows creation order. */
export const newId = (): string => v7();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string): boolean => UUID.test(s);
