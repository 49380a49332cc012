/** Vendor doc text → plain text for an LLM: no HTML tags, markdown links reduced to their text, one line. */
export function plainText(text: string | undefined, max = 400): string {
  if (!text) return '';
  const plain = text
    .replace(/<[^>]+>/g, ' ')
    .replace(/\[([^\]]+)\]\([^)]+\)/g, '$1')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/\s+/g, ' ')
    .trim();
  if (plain.length <= max) return plain;
  const cut = plain.slice(0, max);
  const sentence = cut.lastIndexOf('. ');
  return sentence > max / 2 ? cut.slice(0, sentence + 1) : `${cut.trimEnd()}…`;
}

/** An identifier Dify accepts as a tool name or node id: `[A-Za-z0-9_-]`, at most `max` characters. */
export function identifier(text: string, max = 64, allowDash = true): string {
  const cleaned = text.replace(allowDash ? /[^A-Za-z0-9_-]+/g : /[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  return (cleaned || 'op').slice(0, max);
}
