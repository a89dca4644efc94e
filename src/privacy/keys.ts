import crypto from 'node:crypto'

/**
 * The keyed hashes derived from the deployment's privacy secret (config privacy.secret, or the
 * one kept in SQLite), one key per purpose so that neither use can stand in for the other. Every
 * instance of a deployment must share the secret: contributors are counted by their hash, and the
 * noise of a cell must be the same whichever instance answers.
 */
export function createPrivacyKeys(secret: string) {
  const keyFor = (purpose: string) => crypto.createHmac('sha256', secret).update(purpose).digest()
  const contributorKey = keyFor('contributor')
  const noiseKey = keyFor('noise')
  return {
    /**
     * What raw_measures.contributor stores for a pseudonym: HMAC-SHA256, its first 8 bytes as a
     * UInt64 in decimal ('0' for none, so a hash is never 0). Two pseudonyms share an id with
     * probability 2^-64 per pair; that could only merge two contributors, never add one.
     */
    contributorId(pseudonym: string): string {
      if (pseudonym === '') return '0'
      const id = crypto.createHmac('sha256', contributorKey).update(pseudonym).digest().readBigUInt64BE(0)
      return String(id === 0n ? 1n : id)
    },

    /** 32 bytes that depend only on `cell` (and the secret): the randomness of that cell's noise, the same on every request. */
    noiseBytes(cell: string): Buffer {
      return crypto.createHmac('sha256', noiseKey).update(cell).digest()
    },
  }
}

export type PrivacyKeys = ReturnType<typeof createPrivacyKeys>
