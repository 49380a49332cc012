// The vendors Keybrake calls: where each one's secret comes from (set here, from the environment, or not at all),
// and a form to set it. A secret set here is sealed in the store and never shown again.
import { api, badge, el, field, formPanel, page, refresh, say, table } from './ui.js';

const SOURCE = { api: ['set here', 'ok'], env: ['from the environment', 'ok'], none: ['not set', 'bad'] };

function secretForm(v) {
  const inputs = v.credential_fields.map((f) => [f, el('input', { type: 'password', autocomplete: 'off', 'data-vendor': v.id })]);
  return formPanel(`Set the ${v.name} secret`, inputs.map(([f, input]) => field(f, input, { param: f })), 'Save the secret', async () => {
    await api('PUT', `/vendors/${encodeURIComponent(v.id)}/credentials`, Object.fromEntries(inputs.map(([f, input]) => [f, input.value])));
    say(`Saved the ${v.name} secret. It is sealed in the store and is not shown again.`);
    refresh();
  });
}

export async function vendorsPage() {
  const vendors = await api('GET', '/vendors');
  return page(
    'Vendors',
    table(
      'Vendors',
      [
        ['Vendor', (v) => el('span', {}, el('strong', { text: v.name }), ' ', el('code', { text: v.id }))],
        ['Calls go to', (v) => el('code', { text: v.base_url })],
        ['Secret', (v) => badge(...SOURCE[v.credentials])],
        ['Fields', (v) => v.credential_fields.join(', ')],
        ['Usual endpoints', (v) => String(v.endpoints.length)],
      ],
      vendors.data,
      'No vendors.',
    ),
    vendors.data.map(secretForm),
  );
}
