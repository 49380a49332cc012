// Price tables as data (design §5), each with the date it was taken; KEYBRAKE_CONFIG (`prices:`) overrides them.
// Twilio prices are per destination, by the longest matching E.164 prefix, and include a margin for carrier
// fees so that an estimate is an upper bound (https://www.twilio.com/en-us/sms/pricing/us).

export interface TwilioPrices {
  taken: string;
  /** USD per outbound SMS segment, by E.164 country prefix; `default` for everything else. */
  sms_per_segment: Record<string, number>;
  /** USD per outbound MMS message. */
  mms_per_message: Record<string, number>;
  /** USD per started minute of an outbound call. */
  voice_per_minute: Record<string, number>;
  /** Longest a call may last when the key's policy says nothing (seconds); TimeLimit is injected or capped to it. */
  max_call_seconds: number;
  /** USD per minute of a call recorded with `Record=true`. */
  voice_recording_per_minute: number;
  /** USD per call answered with answering-machine detection (`MachineDetection`). */
  machine_detection_per_call: number;
}

export interface ResendPrices {
  taken: string;
  /** USD per email, and Resend counts every To, Cc and Bcc recipient as one email. */
  per_email: number;
}

export interface PriceTables {
  twilio: TwilioPrices;
  resend: ResendPrices;
}

export const BUILTIN_PRICES: PriceTables = {
  twilio: {
    taken: '2025-06-30',
    sms_per_segment: {
      '1': 0.0145, '44': 0.0524, '49': 0.0887, '33': 0.0843, '34': 0.0819, '39': 0.0924, '31': 0.1046, '61': 0.0515,
      '64': 0.1039, '91': 0.0835, '81': 0.0801, '52': 0.0509, '55': 0.0561, '65': 0.0519, '353': 0.0788, default: 0.2,
    },
    mms_per_message: { '1': 0.03, default: 0.2 },
    voice_per_minute: { '1': 0.014, '44': 0.035, '49': 0.06, '33': 0.06, '61': 0.05, '91': 0.04, default: 0.5 },
    max_call_seconds: 600,
    voice_recording_per_minute: 0.0025,
    machine_detection_per_call: 0.0075,
  },
  resend: { taken: '2025-06-30', per_email: 0.0009 },
};

/** A table's dearest entry: what a leg to an address Keybrake cannot place (a client, a SIP URI) may cost. */
export function dearest(table: Record<string, number>): number {
  return Math.max(...Object.values(table));
}

/** The entry for the longest prefix of an E.164 number's digits, or the table's default. */
export function byPrefix(table: Record<string, number>, e164: string): number {
  const digits = e164.replace(/^\+/, '');
  for (let len = Math.min(4, digits.length); len > 0; len--) {
    const price = table[digits.slice(0, len)];
    if (price !== undefined) return price;
  }
  return table.default ?? Number.POSITIVE_INFINITY;
}
