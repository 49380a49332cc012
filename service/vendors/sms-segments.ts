// SMS segments as Twilio counts them (https://www.twilio.com/docs/glossary/what-sms-character-limit): GSM-7 fits
// 160 septets in one segment and 153 per segment when split; one character outside GSM-7 (an emoji, a curly quote)
// makes the whole message UCS-2, 70 UTF-16 units alone and 67 per segment when split. Extension characters take
// two septets, and neither an escape pair nor a surrogate pair is split across segments.

const GSM_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
const GSM_EXTENSION = new Set('^{}\\[~]|€\f');

export interface Segments {
  encoding: 'GSM-7' | 'UCS-2';
  segments: number;
}

function pack(sizes: number[], single: number, perSegment: number): number {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  if (total <= single) return 1;
  let segments = 1;
  let used = 0;
  for (const size of sizes) {
    if (used + size > perSegment) {
      segments++;
      used = 0;
    }
    used += size;
  }
  return segments;
}

export function countSegments(body: string): Segments {
  const chars = [...body];
  if (chars.every((c) => GSM_BASIC.has(c) || GSM_EXTENSION.has(c))) {
    return { encoding: 'GSM-7', segments: pack(chars.map((c) => (GSM_EXTENSION.has(c) ? 2 : 1)), 160, 153) };
  }
  return { encoding: 'UCS-2', segments: pack(chars.map((c) => c.length), 70, 67) };
}
