import type { VendorCatalog } from '../catalogs/types';

export const twilioCatalog: VendorCatalog = {
  vendor: 'twilio',
  name: 'Twilio',
  description: 'Twilio SMS and voice through Keybrake: every call is checked against a spending cap before it reaches Twilio.',
  // Keybrake puts the real Account SID in the path, so tools never need to know it.
  fixedPathParams: { AccountSid: 'self' },
  endpoints: [
    {
      method: 'POST',
      path: '/2010-04-01/Accounts/{AccountSid}/Messages.json',
      operationId: 'twilio_send_sms',
      summary: 'Send an SMS',
      description:
        'Sends a text message. Cost grows with length: 160 plain characters make one segment, and a single emoji or non-Latin character makes the whole message use 70-character segments. Returns the Message with its sid (SM...) and status.',
      pathParams: [],
      query: [],
      body: [
        { name: 'To', type: 'string', required: true, description: 'Recipient phone number in E.164 format, e.g. +15558675310.' },
        { name: 'From', type: 'string', description: 'Your Twilio phone number in E.164 format. Give this or MessagingServiceSid.' },
        { name: 'MessagingServiceSid', type: 'string', description: 'Messaging Service id (MG...) to send from, instead of From.' },
        { name: 'Body', type: 'string', required: true, description: 'The message text, at most 1,600 characters.' },
      ],
      spends: true,
    },
    {
      method: 'GET',
      path: '/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json',
      operationId: 'twilio_get_message',
      summary: 'Fetch a message',
      description: 'Looks up a message by sid (SM...): its status (queued, sent, delivered, failed), segments and price. Costs nothing.',
      pathParams: [{ name: 'Sid', type: 'string', required: true, description: 'The message sid, starting with SM.' }],
      query: [],
      body: [],
      spends: false,
    },
    {
      method: 'POST',
      path: '/2010-04-01/Accounts/{AccountSid}/Calls.json',
      operationId: 'twilio_make_call',
      summary: 'Make a phone call',
      description: 'Starts an outgoing phone call that plays the given TwiML. Billed per minute; Keybrake caps how long a call may last. Returns the Call with its sid (CA...).',
      pathParams: [],
      query: [],
      body: [
        { name: 'To', type: 'string', required: true, description: 'Phone number to call, in E.164 format.' },
        { name: 'From', type: 'string', required: true, description: 'Your Twilio phone number in E.164 format.' },
        { name: 'Twiml', type: 'string', required: true, description: 'TwiML instructions for the call, e.g. <Response><Say>Hello</Say></Response>.' },
        { name: 'TimeLimit', type: 'integer', description: 'Maximum length of the call in seconds.' },
      ],
      spends: true,
    },
  ],
};
