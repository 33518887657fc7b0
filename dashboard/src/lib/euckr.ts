/**
 * EUC-KR byte length, matching the server's Python `euc-kr` codec (shared/domain/notifications/messages.py):
 * - U+0000..U+007F: 1 byte;
 * - a KS X 1001 character: 2 bytes. The set is not a table in this file: it is read once from the
 *   platform's WHATWG `euc-kr` decoder over the KS X 1001 block (lead and trail bytes 0xA1..0xFE),
 *   minus private-use code points and U+327E (the decoder's later additions that Python's codec lacks),
 *   plus U+00AE and U+20AC (which Python's codec has, some decoders not);
 * - any other Hangul syllable (U+AC00..U+D7A3, e.g. "똠"): 8 bytes, Python's KS X 1001 make-up sequence;
 * - anything else (emoji, most Hanja extensions, half-width katakana...): not encodable.
 * test/euckr.test.ts checks every BMP code point against Python's answers (test/euckr-python.json).
 */

let ksx1001: Set<number> | null = null;

function twoByteSet(): Set<number> {
  if (ksx1001) return ksx1001;
  const set = new Set<number>([0x00ae, 0x20ac]);
  const decoder = new TextDecoder("euc-kr");
  const pair = new Uint8Array(2);
  for (let lead = 0xa1; lead <= 0xfe; lead++) {
    for (let trail = 0xa1; trail <= 0xfe; trail++) {
      pair[0] = lead;
      pair[1] = trail;
      const text = decoder.decode(pair);
      const cp = text.codePointAt(0);
      if (cp === undefined || text.length !== 1 || cp === 0xfffd) continue;
      if ((cp >= 0xe000 && cp <= 0xf8ff) || cp === 0x327e) continue;
      set.add(cp);
    }
  }
  ksx1001 = set;
  return set;
}

/** Bytes one code point takes in EUC-KR, or null when EUC-KR cannot encode it. */
export function eucKrCharBytes(cp: number): number | null {
  if (cp <= 0x7f) return 1;
  if (twoByteSet().has(cp)) return 2;
  if (cp >= 0xac00 && cp <= 0xd7a3) return 8;
  return null;
}

export interface EucKrCount {
  bytes: number;
  /** Distinct characters EUC-KR cannot encode, in order of appearance. */
  unencodable: string[];
}

export function eucKrCount(text: string): EucKrCount {
  let bytes = 0;
  const bad: string[] = [];
  for (const ch of text) {
    const n = eucKrCharBytes(ch.codePointAt(0)!);
    if (n === null) {
      if (!bad.includes(ch)) bad.push(ch);
    } else {
      bytes += n;
    }
  }
  return { bytes, unencodable: bad };
}
