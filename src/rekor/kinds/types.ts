/** What an entry kind makes of a proposed entry: the bytes the log stores and their search keys. */
export interface CanonicalEntry {
  kind: string;
  apiVersion: string;
  /** RFC 8785 JSON of the canonical entry: the Merkle leaf, returned b64 as `body`. */
  body: Buffer;
  /** Search-index keys (lowercase), stored with the entry. */
  indexKeys: string[];
}
