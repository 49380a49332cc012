import { createCipheriv, createDecipheriv, createHash, hash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Uniform base62 string (rejection sampling, so no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

export function newVaultKey(): string {
  return `vault_key_${randomBase62(32)}`;
}

export function newAdminKey(): string {
  return `kb_admin_${randomBase62(40)}`;
}

// Ids are not secrets, so they draw on a shared pool of random bytes (one system call per few hundred ids, as
// crypto.randomUUID does) instead of asking the system for every id; keys above never touch the pool.
let idPool = Buffer.alloc(0);
let idAt = 0;

/**
 * `prefix_` and 20 base62 characters. Given a time (ms since the epoch), the first eight encode it and the other
 * twelve (71 bits) are random; otherwise all twenty are.
 */
export function newId(prefix: string, time?: number): string {
  let out = `${prefix}_`;
  let n = 0;
  if (time !== undefined) {
    // Eight base62 digits of the millisecond (enough until the year 8900), most significant first: ids made later
    // sort later, so an index on them grows at its end instead of at a random page per insert.
    let t = Math.max(0, Math.floor(time));
    let stamp = '';
    for (let i = 0; i < 8; i++) {
      stamp = (BASE62[t % 62] as string) + stamp;
      t = Math.floor(t / 62);
    }
    out += stamp;
    n = 8;
  }
  while (n < 20) {
    if (idAt >= idPool.length) {
      idPool = randomBytes(4096);
      idAt = 0;
    }
    const byte = idPool[idAt++] as number;
    if (byte < 248) {
      out += BASE62[byte % 62];
      n++;
    }
  }
  return out;
}

/** Keys are high-entropy random strings, so a fast hash is the right tool (no password stretching needed). */
export function hashSecret(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** Constant-time comparison of two strings of any length (compares their digests). */
export function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

/** A 32-byte key for one purpose, derived from the master key (HKDF-SHA256), so that one secret serves many uses. */
export function deriveKey(master: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), purpose, 32));
}

/** Parses a 32-byte key given as base64, base64url or hex; returns undefined when it is not one. */
export function parseKey32(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const buf = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (buf.length === 32) return buf;
  }
  return undefined;
}

/**
 * AES-256-GCM envelope for vendor secrets at rest: "v1.<iv>.<tag>.<ciphertext>", base64url parts.
 * The associated data binds a ciphertext to its row, so a sealed secret cannot be copied to another vendor.
 */
export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('SecretBox needs a 32-byte key');
  }

  seal(plaintext: string, associatedData: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv, cipher.getAuthTag(), ct].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
  }

  open(sealed: string, associatedData: string): string {
    const [version, iv, tag, ct] = sealed.split('.');
    if (version !== 'v1' || iv === undefined || tag === undefined || ct === undefined) {
      throw new Error('sealed secret has an unknown format');
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }
}
