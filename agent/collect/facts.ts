// Small helpers every collector shares: turning "could not read it" into an absent fact with a
// reason a technician can act on, and refusing values the protocol could not carry.
import { LIMITS, type Absent, type Fact } from '../protocol.ts';

export function absent(why: string): Absent {
  const text = why.replace(/\s+/g, ' ').trim() || 'unknown reason';
  return { absent: text.length > LIMITS.reason ? `${text.slice(0, LIMITS.reason - 1)}…` : text };
}

/** The first line of an error's message: what a collector failure says in the inventory. */
export function reasonOf(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0];
}

/**
 * A text fact from a raw value: trimmed; null/empty becomes absent with `whyMissing`. A value too
 * long for the protocol is absent too — cutting it would report something the hardware never said.
 */
export function textFact(raw: string | null | undefined, whyMissing: string, max: number = LIMITS.text): Fact<string> {
  const v = raw?.replace(/\0/g, '').trim();
  if (!v) return absent(whyMissing);
  if (v.length > max) return absent(`value longer than ${max} characters`);
  return v;
}

/** A non-negative integer fact from text such as "4" (anything else is absent). */
export function countFact(raw: string | null | undefined, whyMissing: string): Fact<number> {
  const v = raw?.trim();
  if (!v) return absent(whyMissing);
  if (!/^\d{1,9}$/.test(v)) return absent(`not a count: ${JSON.stringify(v.slice(0, 40))}`);
  return Number(v);
}

/** Runs a collector; a throw becomes an absent fact carrying the error's first line. */
export async function attempt<T>(collect: () => Promise<Fact<T>> | Fact<T>, prefix = ''): Promise<Fact<T>> {
  try {
    return await collect();
  } catch (e) {
    return absent(`${prefix}${reasonOf(e)}`);
  }
}
