// What a call's inline TwiML can cost (https://www.twilio.com/docs/voice/twiml): the call itself is one leg, and
// every number, client or SIP address a <Dial> reaches is another, billed per minute as long as the call lasts.
// Keybrake reads TwiML only as far as it can bound it: speaking, playing, pausing, hanging up and dialling. Any
// verb or attribute that fetches more TwiML (a <Redirect>, an `action` or `url`), records, streams, gathers speech,
// sends messages or joins a conference or queue makes the call's cost depend on something Keybrake cannot see.

export type Leg = { kind: 'number'; to: string } | { kind: 'other'; what: string };
export type TwimlBound = { legs: Leg[]; dialLimitSeconds: number[] } | { unbounded: string };

const SIMPLE_VERBS = new Set(['Response', 'Say', 'Play', 'Pause', 'Hangup', 'Reject']);
const LEG_NOUNS = new Set(['Number', 'Client', 'Sip']);
const INSIDE_SAY = new Set(['break', 'emphasis', 'lang', 'p', 'phoneme', 'prosody', 's', 'say-as', 'sub', 'w', 'amazon:domain', 'amazon:effect']);
/** Attributes that make Twilio fetch TwiML from a URL (their answer would decide what the call does next). */
const FETCHES_TWIML = new Set(['action', 'url', 'referurl', 'waiturl']);

interface Tag {
  name: string;
  attrs: Record<string, string>;
  close: boolean;
  selfClosing: boolean;
}

const decode = (s: string): string =>
  s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-f]+);/gi, (m, e: string) => {
    const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
    if (named[e.toLowerCase()] !== undefined) return named[e.toLowerCase()] as string;
    const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : m;
  });

function parseTag(raw: string): Tag | string {
  const m = /^<(\/?)([A-Za-z][\w:.-]*)([^>]*?)(\/?)>$/s.exec(raw);
  if (!m) return `cannot read the tag ${raw.slice(0, 40)}`;
  const attrs: Record<string, string> = {};
  const rest = m[3] ?? '';
  const attr = /\s+([A-Za-z_][\w:.-]*)\s*=\s*("([^"]*)"|'([^']*)')/gy;
  let at = 0;
  let a: RegExpExecArray | null;
  while ((a = attr.exec(rest)) !== null) {
    attrs[(a[1] ?? '').toLowerCase()] = decode(a[3] ?? a[4] ?? '');
    at = attr.lastIndex;
  }
  if (rest.slice(at).trim() !== '') return `cannot read the attributes of <${m[2]}>`;
  return { name: m[2] ?? '', attrs, close: m[1] === '/', selfClosing: m[4] === '/' };
}

/** The legs inline TwiML can dial, or why its cost cannot be bounded. */
export function boundTwiml(twiml: string): TwimlBound {
  if (/<!|<\?(?!xml\s)/i.test(twiml.replace(/<!--[\s\S]*?-->/g, ''))) return { unbounded: 'TwiML with DOCTYPE, CDATA or processing instructions is not read' };
  const tokens = twiml.replace(/<!--[\s\S]*?-->/g, '').replace(/<\?xml[^>]*\?>/i, '').split(/(<[^>]*>)/);
  const legs: Leg[] = [];
  const dialLimitSeconds: number[] = [];
  const stack: string[] = [];
  let text = '';
  let dialHadNoun = false;
  for (const token of tokens) {
    if (!token.startsWith('<')) {
      text += decode(token);
      continue;
    }
    const tag = parseTag(token);
    if (typeof tag === 'string') return { unbounded: tag };
    const parent = stack[stack.length - 1];
    if (tag.close) {
      if (parent !== tag.name) return { unbounded: `</${tag.name}> does not close <${parent ?? 'nothing'}>` };
      stack.pop();
      if (tag.name === 'Dial' && !dialHadNoun) {
        const number = text.trim();
        if (number === '') return { unbounded: '<Dial> names no one to call' };
        legs.push({ kind: 'number', to: number });
      }
      if (LEG_NOUNS.has(tag.name)) {
        const to = text.trim();
        legs.push(tag.name === 'Number' ? { kind: 'number', to } : { kind: 'other', what: `${tag.name} ${to.slice(0, 40)}` });
      }
      text = '';
      continue;
    }
    const inSay = stack.includes('Say');
    if (inSay) {
      if (!INSIDE_SAY.has(tag.name)) return { unbounded: `<${tag.name}> inside <Say>` };
    } else if (tag.name === 'Dial') {
      if (parent !== 'Response') return { unbounded: '<Dial> outside <Response>' };
      const record = tag.attrs.record;
      if (record !== undefined && record !== 'do-not-record' && record !== 'false') return { unbounded: '<Dial record> records the call, billed by the minute' };
      const limit = tag.attrs.timelimit;
      if (limit !== undefined) {
        if (!/^\d{1,6}$/.test(limit)) return { unbounded: '<Dial timeLimit> must be a whole number of seconds' };
        dialLimitSeconds.push(Number(limit));
      }
      dialHadNoun = false;
    } else if (LEG_NOUNS.has(tag.name)) {
      if (parent !== 'Dial') return { unbounded: `<${tag.name}> outside <Dial>` };
      dialHadNoun = true;
    } else if (tag.name === 'Identity' || tag.name === 'Parameter') {
      if (parent !== 'Client' && !(tag.name === 'Parameter' && parent === 'Sip')) return { unbounded: `<${tag.name}> outside <Client>` };
    } else if (!SIMPLE_VERBS.has(tag.name)) {
      return { unbounded: `<${tag.name}> is not a verb Keybrake can bound (it may fetch more TwiML, record, stream, gather speech, message or join others)` };
    } else if (tag.name === 'Response' ? parent !== undefined : parent !== 'Response') {
      return { unbounded: `<${tag.name}> is out of place` };
    }
    for (const name of Object.keys(tag.attrs)) {
      if (FETCHES_TWIML.has(name)) return { unbounded: `<${tag.name} ${name}> fetches more TwiML from a URL` };
    }
    if (!tag.selfClosing) stack.push(tag.name);
    if (tag.name !== 'Identity' && tag.name !== 'Parameter') text = '';
  }
  if (stack.length > 0) return { unbounded: `<${stack[stack.length - 1]}> is not closed` };
  return { legs, dialLimitSeconds };
}
