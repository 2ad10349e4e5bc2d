// Where the appliance keeps its files, derived from the config in one place.
import { join, resolve } from 'node:path';
import type { TetherConfig } from './schema.ts';

export const databasePath = (c: TetherConfig): string => join(resolve(c.dataDir), 'tether.db');
export const artifactsDir = (c: TetherConfig): string => resolve(c.boot.artifactsDir ?? join(c.dataDir, 'artifacts'));
export const tftpRoot = (c: TetherConfig): string => resolve(c.boot.tftpRoot ?? join(c.dataDir, 'tftp'));
/** Browser terminal transcripts, one file per session (the audit event points at it). */
export const terminalDir = (c: TetherConfig): string => join(resolve(c.dataDir), 'terminal');
/** The ed25519 key that signs (and so vouches for) the node OS images the appliance serves. */
export const signingKeyPath = (c: TetherConfig): string => resolve(c.images.signingKey ?? join(c.dataDir, 'keys', 'image-signing.key'));
