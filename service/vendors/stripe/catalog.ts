import type { CatalogField, VendorCatalog } from '../catalogs/types';

const amount: CatalogField = {
  name: 'amount',
  type: 'integer',
  required: true,
  description: 'Amount in the smallest currency unit, as a whole number: cents for USD and EUR (2000 = $20.00), whole yen for JPY (2000 = ¥2000).',
};
const currency: CatalogField = { name: 'currency', type: 'string', required: true, description: 'Three-letter ISO currency code in lower case, e.g. usd, eur, gbp.' };
const id = (what: string, prefix: string): CatalogField => ({ name: 'id', type: 'string', required: true, description: `The ${what} id, starting with ${prefix}.` });

export const stripeCatalog: VendorCatalog = {
  vendor: 'stripe',
  name: 'Stripe',
  description: 'Stripe payments through Keybrake: every call is checked against a spending cap before it reaches Stripe.',
  endpoints: [
    {
      method: 'POST',
      path: '/v1/payment_intents',
      operationId: 'stripe_create_payment_intent',
      summary: 'Create a payment intent',
      description:
        'Creates a Stripe PaymentIntent to charge a customer. With confirm=true and a payment_method it charges immediately; otherwise it must be confirmed later. Returns the PaymentIntent with its id (pi_...) and status. Never create the same payment twice: check the conversation for an earlier pi_ id first.',
      pathParams: [],
      query: [],
      body: [
        amount,
        currency,
        { name: 'customer', type: 'string', description: 'Id of an existing customer (cus_...) to charge.' },
        { name: 'payment_method', type: 'string', description: 'Id of a payment method (pm_...) to charge.' },
        { name: 'confirm', type: 'boolean', description: 'true to confirm and charge right away; requires payment_method.' },
        { name: 'description', type: 'string', description: 'A short note shown in the Stripe dashboard.' },
        { name: 'receipt_email', type: 'string', description: 'Email address to send the receipt to.' },
      ],
      spends: true,
    },
    {
      method: 'POST',
      path: '/v1/payment_intents/{id}/confirm',
      operationId: 'stripe_confirm_payment_intent',
      summary: 'Confirm a payment intent',
      description: 'Confirms an existing PaymentIntent, which charges the customer its full amount. Returns the PaymentIntent with its new status.',
      pathParams: [id('PaymentIntent', 'pi_')],
      query: [],
      body: [{ name: 'payment_method', type: 'string', description: 'Id of the payment method (pm_...) to charge, if the PaymentIntent has none yet.' }],
      spends: true,
    },
    {
      method: 'GET',
      path: '/v1/payment_intents/{id}',
      operationId: 'stripe_get_payment_intent',
      summary: 'Retrieve a payment intent',
      description: 'Looks up a PaymentIntent by id: its amount (in the smallest currency unit), currency and status (e.g. succeeded, requires_payment_method). Costs nothing.',
      pathParams: [id('PaymentIntent', 'pi_')],
      query: [],
      body: [],
      spends: false,
    },
    {
      method: 'POST',
      path: '/v1/refunds',
      operationId: 'stripe_create_refund',
      summary: 'Refund a payment',
      description: 'Refunds a charge or PaymentIntent, fully or partly. Omit amount for a full refund. Returns the Refund (re_...).',
      pathParams: [],
      query: [],
      body: [
        { name: 'payment_intent', type: 'string', description: 'Id of the PaymentIntent (pi_...) to refund. Give this or charge.' },
        { name: 'charge', type: 'string', description: 'Id of the charge (ch_...) to refund. Give this or payment_intent.' },
        { name: 'amount', type: 'integer', description: 'Amount to refund in the smallest currency unit (cents for USD). Omit to refund everything.' },
        { name: 'reason', type: 'string', enum: ['duplicate', 'fraudulent', 'requested_by_customer'], description: 'Why the payment is refunded.' },
      ],
      spends: true,
    },
    {
      method: 'POST',
      path: '/v1/customers',
      operationId: 'stripe_create_customer',
      summary: 'Create a customer',
      description: 'Creates a Stripe customer record. Returns the Customer with its id (cus_...). Costs nothing.',
      pathParams: [],
      query: [],
      body: [
        { name: 'email', type: 'string', description: "The customer's email address." },
        { name: 'name', type: 'string', description: "The customer's full name or business name." },
        { name: 'phone', type: 'string', description: "The customer's phone number." },
        { name: 'description', type: 'string', description: 'A short note about the customer.' },
      ],
      spends: false,
    },
    {
      method: 'GET',
      path: '/v1/customers/{id}',
      operationId: 'stripe_get_customer',
      summary: 'Retrieve a customer',
      description: 'Looks up a customer by id (cus_...): email, name and balance. Costs nothing.',
      pathParams: [id('customer', 'cus_')],
      query: [],
      body: [],
      spends: false,
    },
  ],
};
